"""Any text, any length, any field missing or repeated: a valid answer, never an exception."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from bot import ROOT
from bot.app import create_app
from bot.cli.chat import SMS_URL
from bot.engine.conversation import State, step
from bot.engine.text import BOUNDARY, normalize, sentence_words
from bot.tables import context, load_flows
from bot.web.twilio import sign
from tests.conftest import TOKEN

CONTEXT = context()  # the place resolver step needs

FLOWS = load_flows(ROOT / "flows")
NODES = sorted(FLOWS.nodes)
NOW = 1_800_000_000.0

texts = st.text(max_size=2000) | st.sampled_from(["STOP", "911", "0", "BACK", "menu", "ESPAÑOL", "1", "", "😀"])
states = st.none() | st.builds(
    State,
    node=st.sampled_from(NODES) | st.text(max_size=20),
    lang=st.sampled_from(["en", "es"]) | st.text(max_size=3),
    at=st.integers(min_value=0, max_value=int(NOW // 60) + 10),
    trail=st.lists(st.sampled_from(NODES), max_size=6).map(tuple),
    offer=st.lists(st.sampled_from(NODES), max_size=3).map(tuple),
)


@given(st.text(max_size=3000))
def test_normalize_keeps_only_plain_words(text):
    assert set(normalize(text)) <= set("abcdefghijklmnopqrstuvwxyz0123456789 ")


@given(st.text(max_size=500) | st.sampled_from(["STOP.", "hi!! help. now", "a.b", "ok?\nyes", "aaa. aaa"]))
@settings(max_examples=300)
def test_a_text_split_into_sentences_has_the_same_words(text):
    """Commands, menu numbers and language are read from the same words that danger is."""
    assert tuple(w for w in sentence_words(text) if w != BOUNDARY) == tuple(normalize(text).split())


@given(states, texts)
@settings(max_examples=300)
def test_step_always_answers_or_stays_silent_only_for_opt_out(state, text):
    new_state, replies = step(state, text, FLOWS, CONTEXT, NOW)
    assert len(replies) <= 1
    if not replies:
        assert new_state is None
    for reply in replies:
        assert reply.node in FLOWS.nodes or reply.node == "ask"
        assert reply.lang in ("en", "es") and reply.text
    if new_state is not None:
        assert new_state.node in FLOWS.nodes and new_state.lang in ("en", "es")


def _table_phrases() -> list[str]:
    import yaml

    phrases = []
    for path in sorted((ROOT / "flows" / "keywords").glob("*.yaml")):
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
        for section in ("danger", "danger_alone", "topics", "context"):
            for items in (table.get(section) or {}).values():
                phrases.extend(str(p) for p in items)
    return phrases


# Texts made of the tables' own phrases: ties, asks, negations, ages and cues meet in every mix.
phrase_texts = st.lists(st.sampled_from(_table_phrases()), min_size=1, max_size=4).map(" ".join)


@given(states, phrase_texts)
@settings(max_examples=500, deadline=None)
def test_any_mix_of_keyword_phrases_gets_an_answer_from_a_real_node(state, text):
    new_state, replies = step(state, text, FLOWS, CONTEXT, NOW)
    assert len(replies) == 1
    reply = replies[0]
    assert reply.node in FLOWS.nodes or (reply.node == "ask" and len(new_state.offer) == 2)
    for node in new_state.offer:
        assert (node, reply.lang) in FLOWS.titles


def _tied_pairs() -> list[str]:
    """For every two topics, a phrase of each with as many words: texts that tie them."""
    import yaml

    by_target: dict[str, dict[int, str]] = {}
    for path in sorted((ROOT / "flows" / "keywords").glob("*.yaml")):
        for target, items in (yaml.safe_load(path.read_text(encoding="utf-8"))["topics"] or {}).items():
            for phrase in items:
                by_target.setdefault(target, {}).setdefault(len(normalize(str(phrase)).split()), str(phrase))
    texts = []
    for a in sorted(by_target):
        for b in sorted(by_target):
            shared = sorted(set(by_target[a]) & set(by_target[b]))
            if a < b and shared:
                texts.append(f"{by_target[a][shared[0]]}. {by_target[b][shared[0]]}")
    return texts


def test_every_two_topics_said_together_get_a_real_answer():
    """A tie between any two topics asks between nodes a menu names, or goes to one of them."""
    texts = _tied_pairs()
    assert len(texts) > 100
    for text in texts:
        new_state, replies = step(None, text, FLOWS, CONTEXT, NOW)
        assert len(replies) == 1, text
        if replies[0].node == "ask":
            assert all((node, replies[0].lang) in FLOWS.titles for node in new_state.offer), text
        else:
            assert replies[0].node in FLOWS.nodes, text


field_names = st.sampled_from(["Body", "From", "To", "NumMedia", "MediaUrl0", "MessageSid", "FromZip",
                               "ProfileName", "WaId", "OptOutType"]) | st.text(min_size=1, max_size=12)
field_values = st.text(max_size=1700)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("props") / "helpline.db"
    return create_app({"TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "s", "DATABASE_URL": f"sqlite:///{path}",
                       "RATE_LIMIT": "100000 per minute", "TESTING": True})


@given(st.lists(st.tuples(field_names, field_values), max_size=8), st.text(max_size=600))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_webhook_answers_any_signed_form_with_valid_twiml(app, fields, cookie):
    form = MultiDict(fields)
    client = app.test_client()
    client.set_cookie("hl", cookie.encode("ascii", "ignore").decode() or "x")
    response = client.post("/sms", data=form, headers={"X-Twilio-Signature": sign(TOKEN, SMS_URL, form)})
    assert response.status_code == 200
    root = ElementTree.fromstring(response.get_data())  # noqa: S314 - our own answer
    messages = [m.text or "" for m in root.iter("Message")]
    assert root.tag == "Response" and len(messages) <= 10
    assert all(len(m) <= 1600 for m in messages)
