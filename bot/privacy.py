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
import threading
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


@lru_cache(maxsize=16)
def derive_key(secret: str | bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so the cookie and the hashes never share a key."""
    if isinstance(secret, str):
        secret = secret.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret)


class Nonces:
    """Random 96-bit nonces, read from the OS in batches (one system call per 256 nonces).

    A batch is never shared between processes: a worker forked from a master that had one
    starts a new batch, so no two processes can seal with the same nonce.
    """

    SIZE = 12
    BATCH = 256

    def __init__(self) -> None:
        self._pid, self._pool, self._next = -1, b"", 0
        self._lock = threading.Lock()

    def take(self) -> bytes:
        with self._lock:
            if self._pid != os.getpid() or self._next >= len(self._pool):
                self._pid, self._pool, self._next = os.getpid(), os.urandom(self.SIZE * self.BATCH), 0
            nonce = self._pool[self._next : self._next + self.SIZE]
            self._next += self.SIZE
            return nonce


class StateCodec:
    """Seal a State into an opaque cookie value and open it again."""

    def __init__(self, secret: str | bytes):
        self._aead = AESGCM(derive_key(secret, "helpline state cookie v1"))
        self._nonces = Nonces()

    def seal(self, state: State) -> str:
        """The cookie value for a state: random nonce + ciphertext, URL-safe base64."""
        plain = json.dumps([state.node, state.lang, state.at, state.trail, state.offer, state.campaign],
                           separators=(",", ":")).encode()
        plain = plain.ljust(-(-len(plain) // PADDED) * PADDED)  # one length whatever the page (spaces JSON skips)
        nonce = self._nonces.take()
        sealed = nonce + self._aead.encrypt(nonce, plain, None)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, value: str | None) -> State | None:
        """The state in a cookie value, or None when it is missing, forged or malformed."""
        if not value or len(value) > MAX_COOKIE:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            plain = self._aead.decrypt(sealed[:12], sealed[12:], None)
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


# Phone numbers as they appear in logs: +15551234567, whatsapp:+1555..., (555) 123-4567.
_PHONE = re.compile(r"(?:whatsapp:)?\+?\(?\d[\d ().-]{8,}\d")
_LISTENING = re.compile(r"\d{2,5} \(\d{1,7}\)?")  # gunicorn's "127.0.0.1:18555 (11455)": a port and a pid


def _phone_or_not(match: re.Match[str]) -> str:
    """[number], except for the one shape that is a port and a process id right after a colon."""
    after_colon = match.start() > 0 and match.string[match.start() - 1] == ":"
    return match.group() if after_colon and _LISTENING.fullmatch(match.group()) else "[number]"


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
