"""Any text, any length, any field missing or repeated: a valid answer, never an exception."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from bot import ROOT, create_app
from bot.chat import SMS_URL
from bot.engine import State, step
from bot.flows import load_flows
from bot.matching import BOUNDARY, normalize, sentence_words
from bot.twilio import sign
from tests.conftest import TOKEN

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
    new_state, replies = step(state, text, FLOWS, NOW)
    assert len(replies) <= 1
    if not replies:
        assert new_state is None
    for reply in replies:
        assert reply.node in FLOWS.nodes or reply.node == "ask"
        assert reply.lang in ("en", "es") and reply.text
    if new_state is not None:
        assert new_state.node in FLOWS.nodes and new_state.lang in ("en", "es")


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
