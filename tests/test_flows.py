"""Flows load and validate; every broken fixture is rejected with the error it must raise.

Each file in tests/flows/broken/ starts with comment lines:
  # expect: <a regular expression the error message must match>
  # replaces: <path under flows/ it stands in for>   (absent: it is added as a new flow file)
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot import ROOT
from bot.app import create_app
from bot.errors import FlowError
from bot.tables import load_flows

BROKEN = sorted((Path(__file__).parent / "flows" / "broken").glob("*.yaml"))


def header(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#\s*(expect|replaces):\s*(.+)", line)
        if not match:
            break
        fields[match[1]] = match[2].strip()
    return fields


def test_shipped_flows_load_with_every_topic():
    flows = load_flows(ROOT / "flows")
    files = {Path(n.path).stem for n in flows.nodes.values()}
    assert files >= {"welcome", "hotlines", "health", "out", "law", "report", "danger"}


def test_there_are_broken_fixtures():
    assert len(BROKEN) >= 10


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_flow_is_rejected_with_its_error(path, tmp_path):
    fields = header(path)
    assert "expect" in fields, f"{path.name} lacks its '# expect:' line"
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    target = flows / fields.get("replaces", f"{path.stem}.yaml")
    target.write_bytes(path.read_bytes())
    with pytest.raises(FlowError) as caught:
        load_flows(flows)
    message = str(caught.value)
    assert re.search(fields["expect"], message), message
    assert target.name in message, f"the error must name the file: {message}"


def test_an_invalid_flow_stops_startup(config, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    (flows / "health.yaml").write_text("spec_version: 1\nnodes:\n  health:\n    say: {en: Hi}\n")
    with pytest.raises(FlowError, match=r"health.yaml:4: node 'health': say has no 'es' text"):
        create_app({**config, "FLOWS_DIR": str(flows)})


def test_a_version_1_flow_is_migrated_before_it_is_validated(tmp_path):
    flows_dir = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows_dir)
    shutil.copy(Path(__file__).parent / "flows" / "migrations" / "v1_hotlines.yaml", flows_dir / "hotlines.yaml")
    node = load_flows(flows_dir).nodes["hotlines"]
    assert node.say["en"].startswith("Here are people you can call any time.")
    assert node.resources == ("hotline.trafficking", "hotline.crisis")
    assert node.options[0].goto == "hotlines.text"


def test_yaml_merge_keys_still_load(tmp_path):
    from bot.engine.yamlfile import read_yaml

    path = tmp_path / "merge.yaml"
    path.write_text("base: &base {x: 1}\nthing: {<<: *base, z: 3}\n")
    assert read_yaml(path)["thing"] == {"x": 1, "z": 3}


# What is content lives in the flows: which pages are always answered, where context sends a text.


def edited_flows(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of the shipped flows with one edit."""
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    text = (folder / file).read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    (folder / file).write_text(text.replace(old, new), encoding="utf-8")
    return folder


def test_the_danger_pages_are_the_ones_always_answered():
    flows = load_flows(ROOT / "flows")
    assert flows.always_answered == {"danger", "danger.selfharm", "danger.assault", "danger.child"}


def test_a_page_flagged_always_answered_is_answered_past_the_flood_limit_whatever_its_name(config, tmp_path):
    from bot.cli.chat import Conversation

    folder = edited_flows(tmp_path, "hotlines.yaml", "\n  hotlines:\n", "\n  hotlines:\n    always_answered: true\n")
    app = create_app({**config, "FLOWS_DIR": str(folder)})
    conversation = Conversation.start(app, sender="+18605550669")
    for _ in range(10):
        conversation.send("hi")
    assert conversation.send("hi") == []  # past the flood limit
    assert conversation.send("hotline"), "the flagged page is answered"


def test_the_rule_for_minors_is_in_the_flows(tmp_path):
    """health.young answers every health question from or about someone under 18 because its
    page says so; narrowed to testing, a parent asking for a doctor gets the health menu."""
    from bot.engine.conversation import step
    from bot.tables import context

    def page(flows, text):
        return step(None, text, flows, context(), 1_800_000_000.0)[1][0].node

    shipped = load_flows(ROOT / "flows")
    assert page(shipped, "my daughter needs a doctor") == "health.young"
    folder = edited_flows(tmp_path, "health.yaml", "for_minors: [health]", "for_minors: [health.testing]")
    narrowed = load_flows(folder)
    assert page(narrowed, "my daughter needs a doctor") == "health"
    assert page(narrowed, "where can my son get tested") == "health.young"


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("route: child  #", "route: children  #", "route must be one of danger, child, self_harm"),
    ("route: past_harm  #", "route: child  #", "route 'child' is also on page 'danger.child'"),
    ("route: past_harm  #", "for_minors: [health]\n    route: past_harm  #", "only such a page"),
])
def test_a_route_that_cannot_work_stops_the_flows_loading(tmp_path, old, new, problem):
    file = "out.yaml" if "past_harm" in old else "danger.yaml"
    with pytest.raises(FlowError, match=re.escape(problem)):
        load_flows(edited_flows(tmp_path, file, old, new))
