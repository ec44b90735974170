"""What may be kept, and how: the sealed state cookie, keyed hashes, and log redaction.

Twilio stores the conversation cookie unencrypted, so the state is sealed with AES-GCM under
a key derived from SECRET_KEY: whoever holds the cookie learns nothing, and cannot alter it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.engine.conversation import State

MAX_COOKIE = 1024  # two padded blocks (a state over PADDED bytes, from long node names) still open
# The sealed state is padded to this many bytes, so its length never tells the page ("danger.selfharm"
# is longer than "health"): the longest state of the shipped flows (five steps back, an offer, a card
# tag) is about 200 bytes. A longer one takes two blocks, and so on.
PADDED = 320
NONCE = 12  # bytes: AES-GCM's 96-bit nonce, random for every seal


@lru_cache(maxsize=16)
def derive_key(secret: str | bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so the cookie and the hashes never share a key."""
    if isinstance(secret, str):
        secret = secret.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret)


class StateCodec:
    """Seal a State into an opaque cookie value and open it again.

    AESGCM from `cryptography`, with a fresh os.urandom(12) nonce per seal: nothing is shared
    between forked workers, so no two processes can seal with the same nonce. Measured side by side
    (bench/micro.py, privacy_costs; a five-step state; a shared 2-CPU machine, so ranges over runs):
      - this: 464 characters, seal + open 10.6-18.3 us;
      - the batched nonce pool it replaced (same cookie format): 464 characters, 10.4-16.8 us, the
        same within the noise (a pooled nonce 0.6-0.9 us under its lock, os.urandom(12) 0.4-0.6 us);
      - cryptography.fernet.Fernet: 524 characters (a version byte, a timestamp, a 16-byte IV, CBC
        padding and a 32-byte HMAC), 18.8-41.5 us: 60 characters more for Twilio to store and
        return on every text, and 1.6x to 2.3x the time.
    """

    def __init__(self, secret: str | bytes):
        self._aead = AESGCM(derive_key(secret, "helpline state cookie v1"))

    def seal(self, state: State) -> str:
        """The cookie value for a state: random nonce + ciphertext, URL-safe base64."""
        plain = json.dumps([state.node, state.lang, state.at, state.trail, state.offer, state.campaign],
                           separators=(",", ":")).encode()
        plain = plain.ljust(-(-len(plain) // PADDED) * PADDED)  # one length whatever the page (spaces JSON skips)
        nonce = os.urandom(NONCE)
        sealed = nonce + self._aead.encrypt(nonce, plain, None)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, value: str | None) -> State | None:
        """The state in a cookie value, or None when it is missing, forged or malformed."""
        if not value or len(value) > MAX_COOKIE:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], None)
            node, lang, at, trail, offer, campaign = json.loads(plain)
        except (ValueError, TypeError, InvalidTag, binascii.Error):
            return None
        if not (isinstance(node, str) and isinstance(lang, str) and isinstance(at, int)):
            return None
        if not all(isinstance(t, str) for t in (*trail, *offer, campaign)):
            return None
        return State(node, lang, at, tuple(trail), tuple(offer), campaign)


def keyed_hash(secret: str | bytes, value: str, day: str) -> str:
    """A hash of a value that changes every day and cannot be reversed without SECRET_KEY."""
    key = derive_key(secret, "helpline daily hash v1")
    return hmac.new(key, f"{day}|{value}".encode(), hashlib.sha256).hexdigest()[:32]


# Phone numbers as they appear in logs: +15551234567, whatsapp:+1555..., (555) 123-4567, 555.123.4567,
# 5551234567, +52 55 1234 5678: any run of 10 or more digits and separators, so a number in a format
# no one foresaw is redacted too. The port of a listening address ("127.0.0.1:8000", "[::1]:8000",
# "host.example:8000") is never taken for the start of a number ("127.0.0.1:8000 (12345678)" became
# "127.0.0.1:[number])"); a port followed by more digits ("127.0.0.1:860 555 0123") is not a port,
# and the run is redacted. The address is looked for only when a run follows a colon: the regex
# itself is the one every log line pays for.
#
# Kept over phonenumbers.PhoneNumberMatcher(text, "US", leniency=Leniency.POSSIBLE), which a log
# filter would run on every record. Measured side by side per log line (bench/micro.py,
# privacy_costs: seven typical lines, boot, access log, SQL parameters...; a shared 2-CPU machine):
# this regex 0.8-9 us a line, 3-4.7 us on average; the matcher 2.4-370 us a line, 60-105 us on
# average (20x; 11x to 41x line by line, 100-250 us for gunicorn's access and "Listening at" lines),
# far past 3x or 20 us. And the matcher lets through numbers the regex catches: a Mexican WhatsApp
# id as Twilio sends it ("WaId=5215512345678"), "+52 1 55 1234 5678", or a number under an unknown
# country code ("+999 1234567890" kept its "+999").
_PHONE = re.compile(r"(?:whatsapp:)?\+?\(?\d[\d ().-]{8,}\d")
# A port right after a host: an IPv4 address, [an IPv6 one], localhost, or a name with a dot.
_HOST = re.compile(r"(?<![\w.\[\]:-])"
                   r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[\dA-Fa-f:.]+\]|localhost|[A-Za-z][\w-]*+(?:\.[\w-]++)++)\Z")
# A port: "8000" before " (11455)" (gunicorn's pid) or ")", but not "860" before " 555 0123" or " (555) 0123".
_PORT = re.compile(r"\d{1,5}(?![ .-]?\d| ?\(\d{3}\)[ .-]?\d)")


def _phone_or_not(match: re.Match[str]) -> str:
    """[number], except for a listening address's port: that is kept, and the rest of the run looked at again."""
    text, start = match.string, match.start()
    if start and text[start - 1] == ":" and (port := _PORT.match(text, start)) \
            and _HOST.search(text, max(0, start - 80), start - 1):
        return port.group() + _PHONE.sub(_phone_or_not, text[port.end() : match.end()])
    return "[number]"


def redact(text: str) -> str:
    """Replace anything that looks like a phone number with [number].

    >>> redact("From +18605557319, whatsapp:+18605557319, (860) 555-7319")
    'From [number], [number], [number]'
    >>> redact("Listening at: http://127.0.0.1:18555 (11455)")
    'Listening at: http://127.0.0.1:18555 (11455)'
    """
    return _PHONE.sub(_phone_or_not, text)


def install_redaction() -> None:
    """Redact phone numbers from every log record this process makes, whichever logger or
    handler it reaches (gunicorn's, SQLAlchemy's, a --log-config's): a second line of defence."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts", False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to logging to report
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    redacting_factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
