"""Promise 1: nothing about the texter is kept, in the database, the logs, or the cookie."""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from pathlib import Path

from bot.engine.conversation import State
from bot.privacy import StateCodec, keyed_hash, redact
from bot.web.twilio import sign
from bot.web.webhook import COOKIE
from tests.conftest import SECRET, TOKEN

MARKS = {
    "From": "+18605557319",
    "Body": "clinic MARKBODY71",
    "FromCity": "MARKCITY",
    "FromState": "MARKSTATE",
    "FromZip": "06999",  # shaped like a CT ZIP, but none is (the public town table lists them all)
    "FromCountry": "MARKCOUNTRY",
    "ProfileName": "MARKPROFILE",
    "WaId": "18605557319",
    "MediaUrl0": "https://api.twilio.com/MARKMEDIA.jpg",
    "MessageSid": "SMMARKSID0000000000000000000000",
}


def test_nothing_personal_reaches_database_logs_files_or_cookie(app, tmp_path, caplog):
    client = app.test_client()
    cookies = []
    with caplog.at_level(logging.DEBUG):
        for body in ["clinic MARKBODY71", "1", "MARKBODY71 hotlne", "BACK", "911 MARKBODY71"]:
            data = {**MARKS, "Body": body, "NumMedia": "1", "To": "+18605550100"}
            url = "http://localhost/sms"
            response = client.post("/sms", data=data, headers={"X-Twilio-Signature": sign(TOKEN, url, data)})
            assert response.status_code == 200
            cookies.extend(response.headers.getlist("Set-Cookie"))
    assert cookies, "the conversation state travels in the cookie"
    written = b"".join(p.read_bytes() for p in Path(tmp_path).rglob("*") if p.is_file())
    written += b"".join(p.read_bytes() for p in Path(app.instance_path).rglob("*") if p.is_file()
                        and "helpline" not in p.name)
    codec = StateCodec(SECRET)
    opened = []
    for header in cookies:
        morsel = SimpleCookie(header)[COOKIE]
        state = codec.open(morsel.value)
        assert state is not None
        opened.append(repr(state))
    places = {"database and files": written.decode("utf-8", "replace"), "log": caplog.text,
              "cookie": "\n".join(cookies), "state inside the cookie": "\n".join(opened)}
    for value in [*MARKS.values(), "8605557319", "MARKBODY"]:
        for place, content in places.items():
            assert value not in content, f"{value!r} was kept in the {place}"


def test_state_cookie_is_opaque_and_tamper_proof():
    codec = StateCodec("secret")
    sealed = codec.seal(State("health.testing", "es", 29_000_000, ("welcome", "health")))
    assert "health" not in sealed and "es" not in sealed.split("-")
    assert codec.open(sealed) == State("health.testing", "es", 29_000_000, ("welcome", "health"))
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert codec.open(tampered) is None
    assert StateCodec("another secret").open(sealed) is None
    assert codec.open("garbage!!") is None and codec.open("") is None and codec.open(None) is None


def test_same_state_seals_differently_each_time():
    codec = StateCodec("secret")
    state = State("welcome", "en", 1)
    assert codec.seal(state) != codec.seal(state)


def test_daily_keyed_hash_hides_the_number_and_changes_each_day():
    today = keyed_hash("secret", "+18605557319", "2026-11-26")
    assert "8605557319" not in today
    assert today == keyed_hash("secret", "+18605557319", "2026-11-26")
    assert today != keyed_hash("secret", "+18605557319", "2026-11-27")
    assert today != keyed_hash("other", "+18605557319", "2026-11-26")


def test_log_redaction_removes_phone_numbers_from_any_logger(app, caplog):
    assert "555-7319" not in redact("from +18605557319 and whatsapp:+18605557319 and (860) 555-7319")
    with caplog.at_level(logging.INFO):
        logging.getLogger("gunicorn.error").info("texter %s wrote", "+18605557319")
        logging.getLogger("werkzeug").warning("params (%s,)", "whatsapp:+18605557319")
    assert "8605557319" not in caplog.text and caplog.text.count("[number]") == 2


def test_nonces_never_repeat_and_a_forked_worker_draws_its_own():
    import os

    from bot.privacy import Nonces

    nonces = Nonces()
    taken = [nonces.take() for _ in range(3 * Nonces.BATCH)]
    assert len(set(taken)) == len(taken) and all(len(n) == 12 for n in taken)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: as a gunicorn worker forked from a master that had a batch
        os.write(write, nonces.take())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 12)
    assert child != nonces.take() and child not in taken


def test_the_sealed_cookie_has_one_length_whatever_the_page(app):
    """Twilio keeps the cookie: its length must not tell a self-harm conversation from a clinic one."""
    from bot.cli.chat import Conversation
    from bot.web.webhook import helpline

    codec = StateCodec("secret")
    with app.app_context():
        flows = helpline().flows
    nodes = sorted(flows.nodes)
    tags = [""] + [c.tag for c in flows.campaigns.values()]
    lengths = {len(codec.seal(State(node, lang, 29_000_000, tuple(nodes[:trail]), offer, tag)))
               for node in nodes for lang in ("en", "es") for trail in (0, 5)
               for offer in ((), tuple(nodes[-2:])) for tag in tags}
    assert len(lengths) == 1

    def cookie_after(text: str) -> int:
        texter = Conversation.start(app)
        texter.send(text)
        return len(texter.client.get_cookie(COOKIE).value)

    assert len({cookie_after(t) for t in ("hi", "i want to kill myself", "clinic", "CARD7", "1")}) == 1


def test_redaction_hides_phone_numbers_but_keeps_the_listening_port_and_pid():
    assert redact("From +18605557319, whatsapp:+18605557319, (860) 555-7319, 860.555.7319") == \
        "From [number], [number], [number], [number]"
    assert redact("Listening at: http://127.0.0.1:18555 (11455)") == "Listening at: http://127.0.0.1:18555 (11455)"
    for text in ("whatsapp:+18605550123 (1)", "sms from +18605550123 (2 of 3)", "From:+1 860 555 0123",
                 "tel:+1 (860) 555-0123", "+52 (55) 1234 5678", "+44 (0)20 7946 0958"):
        assert "[number]" in redact(text) and "555" not in redact(text).replace("[number]", ""), text
