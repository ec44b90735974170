"""Twilio at the edge: request signatures and TwiML answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

EMPTY_TWIML = str(MessagingResponse())


def signature_valid(token: str, url: str, form: Mapping, signature: str | None) -> bool:
    """True when X-Twilio-Signature matches the URL Twilio called and every posted field."""
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, form, signature)


def sign(token: str, url: str, form: Mapping[str, str]) -> str:
    """The signature Twilio would send for this request (for the chat tool and tests)."""
    return RequestValidator(token).compute_signature(url, form)


def twiml(messages: Sequence[str]) -> str:
    """A TwiML answer with one <Message> per body; none gives an empty <Response/>."""
    if not messages:
        return EMPTY_TWIML
    response = MessagingResponse()
    for body in messages:
        response.message(body)
    return str(response)
