"""What `helpline validate` guarantees about every message the line can send."""

from __future__ import annotations

import shutil

import pytest

from bot import ROOT
from bot.cli.validate import LOCK_SCREEN, check, every_reply, lock_screen_words
from bot.directory.database import snapshot_from_data
from bot.engine.sms import count_segments
from bot.tables import context, load_flows
from bot.web.replies import Renderer

CONTEXT = context()  # the place resolver step needs

DATA = ROOT / "data"


@pytest.fixture(scope="module")
def flows():
    return load_flows(ROOT / "flows")


def test_every_message_in_both_languages_fits_4_segments_and_hides_the_topic(flows):
    renderer = Renderer(flows, snapshot_from_data(DATA))
    denied = flows.lexicon.lockscreen
    assert {"sex", "traffick*", "escort*", "trata", "prostitucion"} & denied, "the deny list is loaded"
    walked = set()
    for reply in every_reply(flows):
        walked.add((reply.node, reply.lang))
        for body in renderer.messages([reply]):
            assert count_segments(body)[1] <= 4, f"{reply.node} ({reply.lang}) is too long: {body!r}"
            assert not lock_screen_words(body, denied), f"{reply.node} ({reply.lang}) shows: {body[:LOCK_SCREEN]!r}"
    assert walked == {(node, lang) for node in flows.nodes for lang in ("en", "es")}


def test_lock_screen_check_sees_whole_words_and_prefixes():
    denied = frozenset({"sex", "traffick*"})
    assert lock_screen_words("Help for sex workers", denied) == ["sex"]
    assert lock_screen_words("Trafficked? Call us", denied) == ["traffick*"]
    assert lock_screen_words("Sussex county clinics", denied) == []
    assert lock_screen_words("x" * LOCK_SCREEN + " sex", denied) == [], "only the first line a lock screen shows"


def test_the_shipped_flows_pass_every_check(flows):
    report = check(flows, DATA)
    assert report.errors == []
    assert "GSM-7" in report.lines[0] and "UCS-2" in report.lines[0]


def copy_flows(tmp_path):
    target = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", target)
    return target


def test_a_message_over_budget_is_an_error_naming_file_line_and_node(tmp_path):
    target = copy_flows(tmp_path)
    text = (target / "law.yaml").read_text()
    long_line = "This sentence makes the message much longer than it should be. " * 12
    text = text.replace("General information on the law in Connecticut, not legal advice.", long_line.strip(), 1)
    (target / "law.yaml").write_text(text)
    report = check(load_flows(target), DATA)
    assert any("law.yaml:" in e and "node 'law' (en)" in e and "over the budget of 4" in e for e in report.errors)


def test_a_topic_word_on_the_lock_screen_is_an_error(tmp_path):
    target = copy_flows(tmp_path)
    text = (target / "health.yaml").read_text()
    text = text.replace("Confidential health testing in Hartford.", "Free STD testing in Hartford.", 1)
    (target / "health.yaml").write_text(text)
    report = check(load_flows(target), DATA)
    assert any("node 'health.testing' (en)" in e and "std" in e for e in report.errors), report.errors


def test_a_resource_category_without_a_verified_service_is_an_error(tmp_path):
    target = copy_flows(tmp_path)
    text = (target / "health.yaml").read_text().replace("resources: [health.testing]", "resources: [health.dentist]", 1)
    (target / "health.yaml").write_text(text)
    report = check(load_flows(target), DATA)
    assert any("health.yaml:" in e and "'health.dentist' has no active, assured service" in e for e in report.errors)


def test_every_reply_in_both_languages_says_how_to_reach_911(flows):
    from bot.engine.conversation import step

    renderer = Renderer(flows, snapshot_from_data(DATA))
    replies = every_reply(flows) + list(step(None, "lawyer or clinic", flows, CONTEXT, 0)[1])  # and a "which one?"
    for reply in replies:
        assert "911" in "\n".join(renderer.messages([reply])), f"{reply.node} ({reply.lang}) never mentions 911"
