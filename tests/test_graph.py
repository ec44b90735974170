"""`helpline graph`: every node and every option appears in the picture."""

from __future__ import annotations

import shutil

import pytest

from bot import ROOT
from bot.cli.graph import to_dot, to_mermaid, write_graph
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
