"""`helpline doctor`: a deployment's settings checked, one line per check, with what to fix.

It reads the environment the server reads (`bot.app._from_env`, `Clock.from_env`), loads the
flows and the data as the server does, and asks the database and Redis for an answer within a
few seconds. It changes nothing: no schema, no data, no new database file. A secret is shown
only as "set" or "not set" and its length; a password in a URL is shown as ***.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from bot.cli.directory import _safe_url
from bot.errors import ConfigError, FlowError

OK, WARN, FIX = "ok", "WARN", "FIX"
MIN_SECRET_KEY = 32
ANSWER_SECONDS = 5.0  # the longest a database or Redis gets to answer
REDIS_SECONDS = 2.0  # Redis's own connect and read timeouts
SECRET_VARIABLES = ("TWILIO_AUTH_TOKEN", "SECRET_KEY", "HELPLINE_ADMIN_PASSWORD")
NEW_KEY = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
T = TypeVar("T")


@dataclass(frozen=True)
class Finding:
    status: str  # OK, WARN (worth knowing, nothing to fix) or FIX (the line will not work as meant)
    text: str

    def __str__(self) -> str:
        return f"{self.status:<4} {self.text}"


# ---------------------------------------------------------------------------- helpers


@contextmanager
def _without(names: list[str]) -> Iterator[None]:
    """The environment without some variables for a moment (each put back as it was)."""
    kept = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(kept)


def _within(seconds: float, work: Callable[[], T]) -> T:
    """work(), or TimeoutError when it has not returned after `seconds` (a server that accepts and
    never answers must not hold the doctor; the thread is left to end by itself)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # noqa: BLE001 - handed to the caller as it was raised
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True, name="helpline-doctor")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} seconds")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _first_line(err: BaseException) -> str:
    """The driver's own words for an error (its first line), or the error's type."""
    cause = getattr(err, "orig", None) or err
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0].rstrip('.')}" if lines else type(cause).__name__


def _url_password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def _secrets() -> list[str]:
    """Every secret value in the environment, longest first: never to appear in the output."""
    values = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    values += [_url_password(os.environ.get(name, "")) for name in ("DATABASE_URL", "RATELIMIT_STORAGE_URI")]
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """The text with every secret value replaced by ***.

    >>> redact("auth failed for s3cret-pw", ["s3cret-pw"])
    'auth failed for ***'
    """
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _where(uri: str) -> str:
    """A storage URI without its user and password: scheme://host:port/path."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "RATELIMIT_STORAGE_URI"
    return f"{parts.scheme}://{host}{port}{parts.path}"


# ---------------------------------------------------------------------------- the checks


def read_settings() -> tuple[dict[str, Any] | None, list[Finding]]:
    """The server's settings (bot.app._from_env); every number that is not one is a FIX, and the
    rest is read with that variable at its default."""
    from bot.app import _from_env

    findings, skipped = [], []
    while True:
        try:
            with _without(skipped):
                settings = _from_env()
            break
        except ConfigError as err:
            name = str(err).split("=", 1)[0]
            findings.append(Finding(FIX, f"{err}: give a number, or unset {name} for its default"))
            if name not in os.environ or name in skipped:  # not a number setting: nothing more can be read
                return None, findings
            skipped.append(name)
    if not findings:
        findings.append(Finding(OK, "every number setting is a number"))
    settings["_BAD_NUMBERS"] = tuple(skipped)
    return settings, findings


def check_secrets(settings: dict[str, Any]) -> list[Finding]:
    token, key, local = settings["TWILIO_AUTH_TOKEN"], settings["SECRET_KEY"], settings["LOCAL_MODE"]
    found = []
    if local:
        found.append(Finding(WARN, "HELPLINE_LOCAL is set: texts from this machine are answered without a Twilio "
                                   "signature. Local mode must never face the internet: unset HELPLINE_LOCAL on a "
                                   "server."))
    if token:
        found.append(Finding(OK, f"TWILIO_AUTH_TOKEN set ({len(token)} characters)"))
    elif local:
        found.append(Finding(OK, "TWILIO_AUTH_TOKEN not set (not needed in local mode)"))
    else:
        found.append(Finding(FIX, "TWILIO_AUTH_TOKEN not set: the line refuses to start. Copy the Auth Token from "
                                  "the Twilio console (Account, API keys & tokens) into TWILIO_AUTH_TOKEN"))
    if key and len(key) >= MIN_SECRET_KEY:
        found.append(Finding(OK, f"SECRET_KEY set ({len(key)} characters)"))
    elif key:
        found.append(Finding(WARN if local else FIX,
                             f"SECRET_KEY set but only {len(key)} characters: it seals the conversation cookie, "
                             f"use at least {MIN_SECRET_KEY}, e.g. {NEW_KEY} (the same on every host)"))
    elif local:
        found.append(Finding(OK, "SECRET_KEY not set (local mode draws a random one at start)"))
    else:
        found.append(Finding(FIX, f"SECRET_KEY not set: the line refuses to start. Set it to at least "
                                  f"{MIN_SECRET_KEY} random characters, e.g. {NEW_KEY} (the same on every host)"))
    return found


def check_public_url(settings: dict[str, Any]) -> list[Finding]:
    url, hops, local = settings["PUBLIC_URL"].strip(), settings["TRUST_PROXY"], settings["LOCAL_MODE"]
    if url:
        try:
            parts = urlsplit(url)
            shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
        except ValueError:
            parts, shown = None, "a value that is not a URL"
        if parts is None or parts.scheme != "https" or not parts.hostname:
            return [Finding(WARN if local else FIX,
                            f"HELPLINE_PUBLIC_URL is {shown}, not an https:// URL: Twilio calls and signs "
                            "https://; set it to the base URL Twilio calls, e.g. https://line.example.org")]
        if parts.path.rstrip("/").endswith("/sms"):
            return [Finding(FIX, f"HELPLINE_PUBLIC_URL is {shown}: give the base URL without /sms "
                                 "(the line adds the path), e.g. https://line.example.org")]
        return [Finding(OK, f"HELPLINE_PUBLIC_URL is {shown}: signatures are checked against it")]
    if "HELPLINE_TRUST_PROXY" in settings.get("_BAD_NUMBERS", ()):
        return []  # already a FIX above
    if hops > 0:
        return [Finding(OK, f"HELPLINE_TRUST_PROXY={hops}: the X-Forwarded-* headers of {hops} "
                            f"prox{'y' if hops == 1 else 'ies'} are trusted (each must overwrite them)")]
    if hops < 0:
        return [Finding(FIX, f"HELPLINE_TRUST_PROXY={hops}: give the number of proxies in front (e.g. 1), or 0")]
    if local:
        return [Finding(OK, "neither HELPLINE_PUBLIC_URL nor HELPLINE_TRUST_PROXY set (fine in local mode)")]
    return [Finding(FIX, "neither HELPLINE_PUBLIC_URL nor HELPLINE_TRUST_PROXY set: behind a proxy (nginx, a load "
                         "balancer, a hosting platform) every Twilio request will be refused with 403, because "
                         "Twilio signs the https:// URL it calls and the line sees http://127.0.0.1. Set "
                         "HELPLINE_PUBLIC_URL=https://your-host (the URL in the Twilio console, without /sms), "
                         "or HELPLINE_TRUST_PROXY=1 with one proxy that overwrites X-Forwarded-Proto/Host/Port/For")]


def check_timezone() -> list[Finding]:
    from bot.clock import Clock

    try:
        clock = Clock.from_env()
    except ConfigError as err:
        return [Finding(FIX, f"{err}: use a name from the tz database, or unset it for America/New_York")]
    return [Finding(OK, f"HELPLINE_TIMEZONE {getattr(clock.zone, 'key', clock.zone)}")]


def check_rate_limits(settings: dict[str, Any]) -> list[Finding]:
    from limits import parse_many

    found = []
    for name, key in (("HELPLINE_RATE_LIMIT", "RATE_LIMIT"), ("HELPLINE_DANGER_RATE_LIMIT", "DANGER_RATE_LIMIT")):
        try:
            parse_many(settings[key])
        except ValueError:
            found.append(Finding(FIX, f"{name}={settings[key]!r} is not a limit: write it like "
                                      "'10 per minute;200 per day', or unset it for the default"))
        else:
            found.append(Finding(OK, f"{name} {settings[key]}"))
    return found


def check_flows(settings: dict[str, Any]) -> list[Finding]:
    from bot.tables import load_flows

    try:
        flows = load_flows(settings["FLOWS_DIR"])
    except FlowError as err:
        return [Finding(FIX, f"flows: {err} (fix it there; `helpline validate` checks the rest)")]
    return [Finding(OK, f"flows in {settings['FLOWS_DIR']}: {len(flows.nodes)} pages, "
                        f"languages {', '.join(flows.languages)}")]


def check_data(settings: dict[str, Any]) -> list[Finding]:
    from bot.directory.database import read_data

    try:
        package = read_data(settings["DATA_DIR"])
    except FlowError as err:
        return [Finding(FIX, f"data: {err} (the line would not load it; fix it there)")]
    return [Finding(OK, f"data in {settings['DATA_DIR']}: {package.counts()}")]


def check_database(settings: dict[str, Any]) -> list[Finding]:
    from sqlalchemy.engine import make_url

    from bot.directory.database import SCHEMA_HEAD, default_database_url, make_engine, schema_revision

    url = settings["DATABASE_URL"] or default_database_url()
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - any URL SQLAlchemy cannot read; its value may hold a password
        return [Finding(FIX, "DATABASE_URL is not a database URL: write it like postgresql://helpline@db.internal/"
                             "helpline, or unset it for SQLite in instance/")]
    shown = _safe_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():
            folder = path.parent
            if folder.is_dir() and os.access(folder, os.W_OK):
                return [Finding(OK, f"database {shown}: new, created and loaded from data/ on first start")]
            return [Finding(FIX, f"database {shown}: the folder {folder} does not exist or cannot be written; "
                                 "create it for the line's user, or point DATABASE_URL elsewhere")]
    where = "the database"
    if parsed.host:
        where = f"the database at {parsed.host}" + (f":{parsed.port}" if parsed.port else "")
    engine = None
    try:
        engine = make_engine(url)
        revision = _within(ANSWER_SECONDS, lambda: schema_revision(engine))
    except Exception as err:  # noqa: BLE001 - refused, timed out, wrong password, no driver: all said the same way
        return [Finding(FIX, f"{where} ({shown}) cannot be reached: {_first_line(err)}. Start it, or fix the host, "
                             "port, user or password in DATABASE_URL")]
    finally:
        if engine is not None:
            engine.dispose()
    if revision == SCHEMA_HEAD:
        state = "schema up to date"
    elif revision is None:
        state = "no schema yet: created and loaded from data/ on first start"
    else:
        state = f"schema at {revision}: brought to {SCHEMA_HEAD} on first start"
    return [Finding(OK, f"{where} answers ({shown}): {state}")]


def check_rate_storage(settings: dict[str, Any]) -> list[Finding]:
    from limits import storage

    uri = settings["RATELIMIT_STORAGE_URI"]
    if uri.startswith("memory"):
        return [Finding(OK, "RATELIMIT_STORAGE_URI memory://: each worker counts floods on its own "
                            "(redis://host:6379/0 to share the count between workers and hosts)")]
    where = _where(uri)
    redis = uri.startswith("redis")
    options = {"socket_timeout": REDIS_SECONDS, "socket_connect_timeout": REDIS_SECONDS} if redis else {}
    try:
        store = storage.storage_from_string(uri, **options)
    except Exception as err:  # noqa: BLE001 - an unknown scheme, a missing client library
        return [Finding(FIX, f"RATELIMIT_STORAGE_URI ({where}) cannot be used ({type(err).__name__}): write it "
                             "like redis://redis.internal:6379/0, or memory://")]
    client = getattr(store, "storage", None)  # limits' RedisStorage -> the redis client
    try:
        if redis and hasattr(client, "ping"):
            _within(ANSWER_SECONDS, client.ping)
        elif not _within(ANSWER_SECONDS, store.check):
            raise ConnectionError("no answer")
    except Exception as err:  # noqa: BLE001 - refused, timed out, wrong password
        return [Finding(FIX, f"the rate-limit storage at {where} cannot be reached: {_first_line(err)}. Start it or "
                             "fix RATELIMIT_STORAGE_URI; until then each worker counts floods on its own")]
    return [Finding(OK, f"the rate-limit storage at {where} answers")]


def run_checks() -> list[Finding]:
    """Every check, in order; the ones needing the settings are left out when they cannot be read."""
    settings, findings = read_settings()
    findings += check_timezone()
    if settings is None:
        return findings
    for check in (check_secrets, check_public_url, check_rate_limits, check_flows, check_data,
                  check_database, check_rate_storage):
        findings += check(settings)
    return findings


@click.command("doctor", help="Check this deployment's settings (the environment the server reads), the flows, "
               "the data, the database and Redis; print what to fix; exit 1 if anything must be fixed.")
def doctor() -> None:
    findings = run_checks()
    secrets = _secrets()
    for finding in findings:
        click.echo(redact(str(finding), secrets))
    to_fix = sum(f.status == FIX for f in findings)
    if to_fix:
        click.echo(f"\n{to_fix} to fix.")
        raise SystemExit(1)
    click.echo("\nnothing to fix.")
