"""`helpline graph`: every node, option and card word appears in the picture, the pages where a town
can be given are marked, and the default output is a git-ignored folder."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from dataclasses import replace

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.cli import main
from bot.cli.graph import CARD_PREFIX, DEFAULT_OUTPUT, PLACE_NOTE, to_dot, to_mermaid, write_graph
from bot.tables import load_flows


@pytest.fixture(scope="module")
def flows():
    return load_flows(ROOT / "flows")


def test_dot_has_every_node_and_option(flows):
    dot = to_dot(flows, "en")
    for node in flows.nodes.values():
        assert f'"{node.id}" [label=' in dot
        for number, option in enumerate(node.options, start=1):
            assert f'"{node.id}" -> "{option.goto}" [label="{number} {option.label["en"]}"]' in dot
    assert '"(danger words, before all else)" -> "danger"' in dot


def test_spanish_picture_shows_spanish_texts(flows):
    assert "Ayudar a alguien" in to_dot(flows, "es") and "Ayudar a alguien" in to_mermaid(flows, "es")


def test_mermaid_has_an_edge_per_option(flows):
    mermaid = to_mermaid(flows, "en")
    options = sum(len(n.options) for n in flows.nodes.values())
    assert mermaid.startswith("flowchart LR")
    assert mermaid.count("-->|") == options


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_is_written_when_graphviz_is_there(flows, tmp_path):
    written = write_graph(flows, tmp_path / "flows", "dot")
    assert [p.suffix for p in written] == [".dot", ".svg"]
    assert "<svg" in written[1].read_text()


def test_dot_shows_every_card_word_pointing_to_its_start(flows):
    dot = to_dot(flows, "en")
    assert flows.campaigns, "the shipped flows have card words"
    for campaign in flows.campaigns.values():
        box = f"{CARD_PREFIX}{campaign.word}"
        assert f'"{box}" [label="{campaign.word}", shape=box' in dot, campaign.word
        assert f'"{box}" -> "{campaign.start}" [label="card word, {campaign.lang}"' in dot, campaign.word


def test_mermaid_shows_every_card_word_pointing_to_its_start(flows):
    mermaid = to_mermaid(flows, "en")
    ids = dict(re.findall(r'^  (n\d+)\[\[?"([^<"]+)<br/>', mermaid, re.MULTILINE))
    node_ids = {name: key for key, name in ids.items()}
    cards = dict(re.findall(r'^  (c\d+)\["([^"]+)"\]:::card$', mermaid, re.MULTILINE))
    assert sorted(cards.values()) == sorted(c.word for c in flows.campaigns.values())
    words = {word: key for key, word in cards.items()}
    for campaign in flows.campaigns.values():
        edge = f'  {words[campaign.word]} ==>|"card word, {campaign.lang}"| {node_ids[campaign.start]}'
        assert edge in mermaid.splitlines(), campaign.word


def test_pages_that_list_services_are_marked_as_asking_for_a_town(flows):
    dot, mermaid = to_dot(flows, "en"), to_mermaid(flows, "en")
    listing = [node for node in flows.nodes.values() if node.resources]
    assert listing and len(listing) < len(flows.nodes)
    for node in flows.nodes.values():
        line = next(x for x in dot.splitlines() if x.startswith(f'  "{node.id}" [label='))
        box = next(x for x in mermaid.splitlines() if re.match(rf'  n\d+\[\[?"{re.escape(node.id)}<br/>', x))
        marked = PLACE_NOTE in line and "shape=folder" in line
        assert marked == bool(node.resources), line
        assert (PLACE_NOTE in box and box.endswith('"]]')) == bool(node.resources), box


def test_card_boxes_come_from_the_campaigns_and_marks_from_the_resources(flows):
    bare = replace(flows, campaigns={})
    assert CARD_PREFIX not in to_dot(bare) and ":::card" not in to_mermaid(bare)
    assert to_dot(bare).count(PLACE_NOTE) == sum(bool(n.resources) for n in flows.nodes.values())


def test_the_default_output_is_in_a_git_ignored_folder():
    assert DEFAULT_OUTPUT.is_relative_to(ROOT) and DEFAULT_OUTPUT.parent != ROOT
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    names = [str(DEFAULT_OUTPUT.with_suffix(s).relative_to(ROOT)) for s in (".dot", ".svg", ".mmd")]
    ignored = subprocess.run([git, "check-ignore", *names], cwd=ROOT,  # noqa: S603
                             capture_output=True, text=True, check=False)
    assert ignored.stdout.split() == names, f"not ignored by git: {set(names) - set(ignored.stdout.split())}"


def test_graph_without_o_writes_to_the_default_output(flows, tmp_path, monkeypatch):
    target = tmp_path / "deep" / "folder" / "flows-graph"
    monkeypatch.setattr(importlib.import_module("bot.cli.graph"), "DEFAULT_OUTPUT", target)
    monkeypatch.chdir(tmp_path)
    for fmt, suffix in (("dot", ".dot"), ("mermaid", ".mmd")):
        result = CliRunner().invoke(main, ["graph", "--format", fmt])
        assert result.exit_code == 0, result.output
        assert target.with_suffix(suffix).is_file() and f"wrote {target.with_suffix(suffix)}" in result.output
    assert not list(tmp_path.glob("flows-graph.*")), "nothing is written into the current folder"
