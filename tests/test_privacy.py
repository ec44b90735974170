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


def _nonce(cookie: str) -> bytes:
    import base64

    from bot.privacy import NONCE

    return base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))[:NONCE]


def test_nonces_never_repeat_and_a_forked_worker_draws_its_own():
    import os

    codec = StateCodec("secret")
    state = State("welcome", "en", 1)
    taken = [_nonce(codec.seal(state)) for _ in range(1000)]
    assert len(set(taken)) == len(taken) and all(len(n) == 12 for n in taken)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: as a gunicorn worker forked from a master that had sealed before
        os.write(write, _nonce(codec.seal(state)))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 12)
    assert child != _nonce(codec.seal(state)) and child not in taken


def test_a_cookie_that_cannot_be_opened_starts_a_fresh_conversation(app):
    """An old or foreign cookie (another format, another key, cut short) is no error: the texter starts over."""
    import base64

    from cryptography.fernet import Fernet

    from bot.cli.chat import SMS_URL, messages_of

    sealed = StateCodec(SECRET).seal(State("health.testing", "en", 29_000_000, ("welcome", "health")))
    unreadable = [Fernet(base64.urlsafe_b64encode(b"k" * 32)).encrypt(b" " * 320).decode(),
                  StateCodec("an older secret").seal(State("health", "en", 29_000_000)), sealed[:-8], sealed[12:],
                  "A" * 464, "not base64 !!"]
    assert all(StateCodec(SECRET).open(value) is None for value in unreadable)

    def answer(cookie: str | None) -> tuple[int, list[str]]:
        client = app.test_client()
        if cookie is not None:
            client.set_cookie(COOKIE, cookie)
        data = {"From": "+18605550123", "To": "+18605550100", "Body": "2", "MessageSid": "SM" + "a" * 32}
        response = client.post("/sms", data=data, headers={"X-Twilio-Signature": sign(TOKEN, SMS_URL, data)})
        return response.status_code, messages_of(response.get_data(as_text=True))

    fresh = answer(None)
    assert fresh[0] == 200 and fresh[1]
    for cookie in unreadable:
        assert answer(cookie) == fresh, cookie


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


def test_redaction_keeps_listening_addresses_ports_and_short_numbers():
    """A port is not a phone number: '127.0.0.1:8000 (12345678)' became '127.0.0.1:[number])'."""
    for text in ("Listening at: http://127.0.0.1:8000 (11455)", "Listening at: http://0.0.0.0:8000 (1)",
                 "127.0.0.1:8000 (12345678)", "Running on http://127.0.0.1:8000)", "127.0.0.1:8000)",
                 "(http://127.0.0.1:8000) 200 1234", "Listening at: http://[::1]:8000 (11455)",
                 "http://localhost:8000 (11455)", "helpline.example.org:443 (12345678)", "bound to 10.0.0.7:5000",
                 "port 8000", "call 911 or 988", "texted 911, then 988", "Booting worker with pid: 11455",
                 'POST /sms HTTP/1.1" 200 245'):
        assert redact(text) == text, text


def test_redaction_hides_every_number_format_even_right_after_an_address():
    import re

    def digits(text: str) -> str:
        return re.sub(r"\D", "", text.replace("[number]", ""))

    numbers = {"+18605551234": "E.164", "(860) 555-1234": "US, area code in brackets", "860.555.1234": "dots",
               "8605551234": "ten bare digits", "18605551234": "eleven bare digits", "860-555-1234": "dashes",
               "whatsapp:+18605551234": "WhatsApp", "+1 860 555 1234": "spaced E.164", "+52 55 1234 5678": "Mexico",
               "5215512341234": "a Mexican WhatsApp id, no plus", "+52 1 55 1234 1234": "Mexico, old mobile 1",
               "+44 (0)20 7946 1234": "UK, trunk zero", "+33 1 23 45 12 34": "France", "+999 1234561234": "any code"}
    for number, what in numbers.items():
        for template in ("{}", "From {} wrote", "From:{}", "WaId={}", "({})", "('{}',)", "127.0.0.1:8000 {}",
                         "host.example:8000/{}", "Listening at: http://127.0.0.1:8000 (11455) {}"):
            cleaned = redact(template.format(number))
            assert "[number]" in cleaned and "whatsapp" not in cleaned, (what, template, cleaned)
            assert digits(cleaned) in digits(template.format("")), (what, template, cleaned)  # none of the number
    # a number glued to an address's port is no port: the run is redacted, the port may go with it
    for text in ("127.0.0.1:860 555 1234", "127.0.0.1:8605551234", "sms.example.org:860 (555) 1234",
                 "From:18555 (11455)", "127.0.0.1:8000 8605551234"):
        cleaned = redact(text)
        assert "[number]" in cleaned and digits(cleaned) in "1270018000", (text, cleaned)
