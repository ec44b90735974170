"""Twilio at the edge: request signatures and TwiML answers."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from functools import lru_cache

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

EMPTY_TWIML = str(MessagingResponse())


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def signature_valid(token: str, url: str, form: Mapping, signature: str | None) -> bool:
    """True when X-Twilio-Signature matches the URL Twilio called and every posted field.

    The URL as seen is tried first (one HMAC); only on a mismatch does twilio's validator try
    the URL with and without its port.
    """
    if not token or not signature or not all(isinstance(name, str) for name in form):
        return False
    validator = _validator(token)
    if hmac.compare_digest(validator.compute_signature(url, form).encode(), signature.encode()):
        return True
    return validator.validate(url, form, signature)


def sign(token: str, url: str, form: Mapping[str, str]) -> str:
    """The signature Twilio would send for this request (for the chat tool and tests)."""
    return RequestValidator(token).compute_signature(url, form)


def twiml(messages: Sequence[str], *, cache: bool = True) -> str:
    """A TwiML answer with one <Message> per body; none gives an empty <Response/>.

    Answers repeat (the renderer caches them), so they are built once; pass cache=False for
    an answer that must not stay in memory (one naming the town a texter gave).
    """
    return _cached_twiml(tuple(messages)) if cache else _twiml(tuple(messages))


def _twiml(messages: tuple[str, ...]) -> str:
    if not messages:
        return EMPTY_TWIML
    response = MessagingResponse()
    for body in messages:
        response.message(body)
    return str(response)


_cached_twiml = lru_cache(maxsize=2048)(_twiml)
