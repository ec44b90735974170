"""A conversation with the line through the real webhook, with signed requests and the cookie."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient

from bot.app import create_app
from bot.web.twilio import sign

SMS_URL = "http://localhost/sms"
LINE_NUMBER = "+18605550100"


def inbound_form(sender: str, text: str, line: str = LINE_NUMBER) -> dict[str, str]:
    """The fields Twilio posts for an inbound text to one of the line's numbers."""
    return {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32,
            "From": sender, "To": line, "Body": text, "NumMedia": "0",
            "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}


@dataclass
class Conversation:
    """One texter talking to the line; Twilio's role (signature, cookie jar) is played here."""

    app: Flask
    client: FlaskClient
    sender: str
    line: str = LINE_NUMBER  # the number texted (campaigns.yaml `lines:` may set each one up differently)

    @classmethod
    def start(cls, app: Flask | None = None, sender: str | None = None, line: str = LINE_NUMBER) -> Conversation:
        """A new conversation, on a given app or one built with a throwaway token and key."""
        if app is None:
            app = create_app({"TWILIO_AUTH_TOKEN": secrets.token_hex(16),
                              "SECRET_KEY": secrets.token_urlsafe(32), "LOCAL_MODE": False})
        return cls(app, app.test_client(), sender or f"+1860555{secrets.randbelow(10_000):04d}", line)

    def send(self, text: str) -> list[str]:
        """Text the line; the bodies of the messages it answers with."""
        form = inbound_form(self.sender, text, self.line)
        signature = sign(self.app.config["TWILIO_AUTH_TOKEN"], SMS_URL, form)
        response = self.client.post("/sms", data=form, headers={"X-Twilio-Signature": signature})
        body = response.get_data(as_text=True)
        response.close()  # as a WSGI server does: runs the after-answer work
        if response.status_code != 200:
            raise RuntimeError(f"the line answered HTTP {response.status_code}")
        return messages_of(body)


class RemoteConversation:
    """The same, against a running server (`helpline serve`), signing when a token is set."""

    def __init__(self, url: str, token: str = "", sender: str | None = None, line: str = LINE_NUMBER):
        import http.cookiejar
        import urllib.request

        self.url, self.token, self.line = url, token, line
        self.sender = sender or f"+1860555{secrets.randbelow(10_000):04d}"
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def send(self, text: str) -> list[str]:
        """Text the line over HTTP; the bodies it answers with."""
        import urllib.error
        import urllib.parse
        import urllib.request

        form = inbound_form(self.sender, text, self.line)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.token:
            headers["X-Twilio-Signature"] = sign(self.token, self.url, form)
        request = urllib.request.Request(self.url, urllib.parse.urlencode(form).encode(), headers)  # noqa: S310
        try:
            with self._opener.open(request, timeout=15) as response:
                return messages_of(response.read().decode())
        except urllib.error.HTTPError as err:
            why = err.read().decode("utf-8", "replace").strip()[:300] if err.code == 403 else ""
            raise RuntimeError(f"the line answered HTTP {err.code}" + (f": {why}" if why else "")) from None


class _Literal(str):
    """A string YAML writes as a literal block, so transcripts read like the texts."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _TranscriptDumper(yaml.SafeDumper):
    pass


_TranscriptDumper.add_representer(_Literal, _literal)


def transcript_yaml(name: str, turns: list[tuple[str, list[str]]]) -> str:
    """A golden transcript: what the person said, and what the line answered, turn by turn."""
    document = {"name": name, "turns": [{"user": user, "bot": [_Literal(m) for m in bot]} for user, bot in turns]}
    return yaml.dump(document, Dumper=_TranscriptDumper, allow_unicode=True, sort_keys=False, width=200)


def script_texts(path: Path) -> list[str]:
    """The texts of a script: a transcript's `user` turns, or one text per line of a plain file."""
    content = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        document = yaml.safe_load(content)
        return [str(turn["user"]) for turn in document["turns"]]
    return content.splitlines()


def messages_of(twiml: str) -> list[str]:
    """The <Message> bodies of a TwiML answer."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(twiml)  # noqa: S314 - our own answer, not outside input
    return [m.text or "" for m in root.iter("Message")]
