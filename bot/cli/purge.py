"""`helpline purge-twilio`: delete the line's message records from Twilio once they are old enough.

Twilio keeps every message (numbers, body, media) until it is deleted. A record can only be
deleted once it is final; until then Twilio answers error 20009, so those are retried.
Nothing here ever logs or prints a phone number, a message SID, a body or Twilio's error text
(which can quote them): only counts, HTTP statuses and Twilio error codes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn

import click
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageInstance

from bot.clock import Clock

log = logging.getLogger(__name__)

NOT_FINAL = 20009  # "cannot delete a message that is not yet final": try again later
NOT_FOUND = 20404  # already gone
PAGE_SIZE = 1000  # Twilio's largest page
TIMEOUT = 30.0  # seconds per request to Twilio
MAX_AGE = dt.timedelta(days=3650)
_AGE = re.compile(r"(\d{1,9})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_LINE_NUMBER = re.compile(r"(?:whatsapp:)?\+[1-9]\d{6,14}")


class PurgeError(RuntimeError):
    """The purge could not run; the message names only an HTTP status and a Twilio error code."""


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did, as counts only."""

    deleted: int
    not_final: int
    failed: int

    @property
    def ok(self) -> bool:
        """Every old record is gone."""
        return self.not_final == 0 and self.failed == 0

    def summary(self) -> str:
        """One line for the terminal or a log: 'deleted 12, not final 1, failed 0'."""
        return f"deleted {self.deleted}, not final {self.not_final}, failed {self.failed}"


class _Outcome(enum.Enum):
    DELETED = "deleted"
    NOT_FINAL = "not final"
    FAILED = "failed"


def parse_age(text: str) -> dt.timedelta:
    """A duration like 90s, 10m, 2h or 1d."""
    match = _AGE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an age: write a whole number and s, m, h or d (90s, 10m, 2h, 1d)")
    amount, unit = match.groups()
    age = dt.timedelta(**{_UNITS[unit]: int(amount)})
    if age > MAX_AGE:
        raise ValueError(f"{text!r} is too long an age: at most {MAX_AGE.days}d")
    return age


def parse_line_numbers(text: str) -> list[str]:
    """The line's numbers from a comma-separated list; errors name the position, never the number."""
    numbers = [part.strip() for part in text.split(",") if part.strip()]
    for position, number in enumerate(numbers, start=1):
        if not _LINE_NUMBER.fullmatch(number):
            raise ValueError(f"line number {position} is not in E.164 form (like +18605550100 or whatsapp:+1...)")
    return list(dict.fromkeys(numbers))


def line_numbers_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """The line's own numbers from HELPLINE_NUMBERS (comma-separated, E.164, whatsapp: allowed)."""
    return parse_line_numbers((os.environ if environ is None else environ).get("HELPLINE_NUMBERS", ""))


def make_client(account_sid: str, auth_token: str) -> Client:
    """A Twilio client whose HTTP log (request URLs with numbers and SIDs) goes nowhere."""
    http = TwilioHttpClient(timeout=TIMEOUT, logger=_silent_logger())
    return Client(account_sid, auth_token, http_client=http)


def _silent_logger() -> logging.Logger:
    """A logger outside logging's tree: no configuration can route its records anywhere."""
    logger = logging.Logger("helpline.purge.twilio-http")  # twilio-python logs URLs and query params at INFO
    logger.disabled = True
    return logger


def close_client(client: Client) -> None:
    """Close the client's connection pool."""
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()


def purge(client: Client, line_numbers: list[str], older_than: dt.timedelta, now: dt.datetime,
          retries: int = 3, wait: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> PurgeReport:
    """Delete the line's inbound and outbound records sent before now - older_than; retry the not-final."""
    cutoff = _utc(now) - older_than
    with _quiet_urllib3():
        pending = _old_message_sids(client, line_numbers, cutoff)
        deleted = failed = 0
        for attempt in range(retries + 1):
            if attempt:
                sleep(wait)
            outcomes = [_delete(client, sid) for sid in pending]
            deleted += outcomes.count(_Outcome.DELETED)
            failed += outcomes.count(_Outcome.FAILED)
            pending = [sid for sid, outcome in zip(pending, outcomes, strict=True) if outcome is _Outcome.NOT_FINAL]
            if not pending:
                break
    report = PurgeReport(deleted=deleted, not_final=len(pending), failed=failed)
    log.info("purge-twilio: %s", report.summary())
    return report


def _utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _old_message_sids(client: Client, line_numbers: list[str], cutoff: dt.datetime) -> list[str]:
    """SIDs of messages to (inbound) or from (outbound) the line's numbers sent before the cutoff."""
    # Twilio's DateSent< filter works on whole GMT days: ask up to the day after, then cut exactly.
    day_after = (cutoff.date() + dt.timedelta(days=1)).isoformat()
    sids: dict[str, None] = {}
    for number in line_numbers:
        for direction in ("to", "from_"):
            for message in _list(client, {direction: number}, day_after):
                if getattr(message, direction) == number and _sent_before(message, cutoff) and message.sid:
                    sids[message.sid] = None
    return list(sids)


def _list(client: Client, number_filter: dict[str, str], day_after: str) -> list[MessageInstance]:
    """One listing from Twilio, every page; failures raised as PurgeError without their text."""
    try:
        return client.messages.list(**number_filter, date_sent_before=day_after, page_size=PAGE_SIZE)
    except (TwilioException, requests.RequestException, ValueError) as err:
        raise PurgeError(f"could not list the line's messages ({describe(err)})") from None


def _sent_before(message: MessageInstance, cutoff: dt.datetime) -> bool:
    """Whether the record is older than the cutoff (by date sent, or created when never sent)."""
    moment = message.date_sent or message.date_created
    return isinstance(moment, dt.datetime) and _utc(moment) < cutoff


def _delete(client: Client, sid: str) -> _Outcome:
    """Delete one record: deleted (or already gone), not final yet, or failed."""
    try:
        client.messages(sid).delete()
    except (TwilioException, requests.RequestException) as err:
        code = _code_of(err)
        if code == NOT_FINAL:
            return _Outcome.NOT_FINAL
        if code == NOT_FOUND:
            return _Outcome.DELETED
        log.warning("purge-twilio: a delete failed (%s)", describe(err))
        return _Outcome.FAILED
    return _Outcome.DELETED


def describe(err: BaseException) -> str:
    """An error as its HTTP status and Twilio code, or its type: never its text, which may quote a number."""
    if isinstance(err, TwilioRestException | TwilioServiceException):
        return f"HTTP {_int(err.status)}, Twilio error {_int(err.code)}"
    response = _response_of(err)
    if response is not None:
        return f"HTTP {_int(response.status_code)}, Twilio error {_code_in(response)}"
    return type(err).__name__


def _code_of(err: BaseException) -> int | None:
    """The Twilio error code of a failure, if it has one."""
    if isinstance(err, TwilioRestException | TwilioServiceException):
        return _int(err.code)
    response = _response_of(err)
    return _code_in(response) if response is not None else None


def _response_of(err: BaseException) -> Response | None:
    """The HTTP response a bare TwilioException carries (a failed page fetch puts it in args)."""
    return next((arg for arg in err.args if isinstance(arg, Response)), None)


def _code_in(response: Response) -> int | None:
    """The `code` field of a Twilio error body."""
    try:
        body = json.loads(response.text)
    except (TypeError, ValueError):
        return None
    return _int(body.get("code")) if isinstance(body, dict) else None


def _int(value: object) -> int | None:
    """An int, or None: only numbers ever reach a message."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@contextlib.contextmanager
def _quiet_urllib3() -> Iterator[None]:
    """Silence urllib3 meanwhile: at DEBUG it logs each request line, message SIDs included."""
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _age_option(_ctx: click.Context, _param: click.Parameter, value: str) -> dt.timedelta:
    try:
        return parse_age(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command(
    "purge-twilio",
    help="Delete the line's message records (texts in and replies out, with their numbers, bodies and "
    "media) from Twilio once they are older than --older-than. Records Twilio does not let go of yet "
    "(not final, error 20009) are retried, then left for the next run. Prints counts only; exits 1 "
    "unless every old record is gone. Needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN; the line's "
    "numbers come from HELPLINE_NUMBERS or --numbers. Run it every few minutes (cron or a systemd timer).",
)
@click.option("--older-than", "older_than", default="10m", show_default=True, callback=_age_option,
              help="Only records sent longer ago than this: 90s, 10m, 2h, 1d.")
@click.option("--numbers", help="The line's own numbers, comma-separated E.164 (whatsapp:+1... allowed). "
              "[default: HELPLINE_NUMBERS]")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(min=0),
              help="Rounds of retries for records that are not final yet.")
@click.option("--wait", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait before each round of retries.")
def purge_twilio(older_than: dt.timedelta, numbers: str | None, retries: int, wait: float) -> None:
    account_sid, auth_token = os.environ.get("TWILIO_ACCOUNT_SID", ""), os.environ.get("TWILIO_AUTH_TOKEN", "")
    missing = [name for name, value in (("TWILIO_ACCOUNT_SID", account_sid), ("TWILIO_AUTH_TOKEN", auth_token))
               if not value]
    if missing:
        _fail(f"{' and '.join(missing)} not set: purge-twilio needs the account's credentials")
    try:
        line_numbers = parse_line_numbers(numbers) if numbers is not None else line_numbers_from_env()
    except ValueError as err:
        _fail(str(err))
    if not line_numbers:
        _fail("no line numbers: set HELPLINE_NUMBERS or pass --numbers (comma-separated, like +18605550100)")
    client = make_client(account_sid, auth_token)
    now = dt.datetime.fromtimestamp(Clock.from_env().now(), dt.UTC)  # Twilio dates its messages in UTC
    try:
        report = purge(client, line_numbers, older_than, now, retries=retries, wait=wait)
    except PurgeError as err:
        _fail(str(err))
    finally:
        close_client(client)
    click.echo(report.summary())
    if report.not_final:
        click.echo(f"{report.not_final} not final yet: the next run retries them", err=True)
    if not report.ok:
        sys.exit(1)
