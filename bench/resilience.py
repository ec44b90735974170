"""The line under load, flood and faults, on loopback: `python -m bench.resilience`.

- load: 16 concurrent senders against 4 gunicorn workers, on SQLite and on PostgreSQL;
- flood: one number texting far past its limit while 15 others text normally;
- database down at start, and gone while the line runs;
- database held (it accepts connections and never answers) at start, and while the line runs;
- the counts of four workers written together to PostgreSQL under load: none dropped, no deadlock.
Each scenario is bounded in time and requests, and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.load import ConversationPool, build_conversations, run_turn
from bench.server import HOST, WEBHOOK_APP, Server, new_secrets, webhook_env
from bot.cli.chat import inbound_form, messages_of
from bot.web.twilio import sign

SENDERS = 16
WORKERS = 4
DOWN_URL = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens on port 1


@dataclass
class Outcome:
    """What a scenario showed: its numbers and whether the line held."""

    name: str
    held: bool
    numbers: dict[str, object] = field(default_factory=dict)


def _server(database_url: str, workers: int, **extra: str) -> tuple[Server, str]:
    token, secret = new_secrets()
    env = webhook_env(database_url, token, secret)
    env.update(extra)
    server = Server(WEBHOOK_APP, workers, env).start()
    _wait(server)
    return server, token


def _wait(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server._check_alive()
        try:
            with urllib.request.urlopen(f"http://{HOST}:{server.port}/healthz", timeout=2):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # 503 still means it serves
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the line did not start; see {server.log_path}")


def text(server: Server, token: str, sender: str, body: str, cookie: str = "") -> tuple[int, list[str], str]:
    """One signed text: (HTTP status, the messages, the state cookie to send next)."""
    form = inbound_form(sender, body)
    url = server.url
    request = urllib.request.Request(url, urlencode(form).encode(), {  # noqa: S310 - loopback only
        "X-Twilio-Signature": sign(token, url, form), "Content-Type": "application/x-www-form-urlencoded",
        **({"Cookie": f"hl={cookie}"} if cookie else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            header = response.headers.get("Set-Cookie", "")
            value = header.split(";", 1)[0].partition("=")[2] if header.startswith("hl=") else cookie
            return response.status, messages_of(response.read().decode()), value
    except urllib.error.HTTPError as err:
        return err.code, [], cookie


def health(server: Server) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{server.port}/healthz", timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def load(database_url: str, seconds: float, senders: int = SENDERS, workers: int = WORKERS) -> Outcome:
    """16 concurrent senders, each a conversation after another, for `seconds`."""
    server, token = _server(database_url, workers)
    try:
        pool = ConversationPool(build_conversations(server.url, token, 10_000, seed=6))
        turn = run_turn("load", HOST, server.port, pool, seconds, connections=senders)
        faults = server.log_text().count("answered with the safe menu")
    finally:
        server.cleanup()
    failed = turn.non_200 + turn.errors + turn.empty + faults
    return Outcome(f"load, {senders} senders, {workers} workers", failed == 0, {
        "answered": turn.ok, "failed (non-200, errors, empty)": turn.non_200 + turn.errors + turn.empty,
        "faults answered with the safe menu": faults, "answers/s": round(turn.ok / seconds),
        "p99 ms": round(turn.percentile(0.99) * 1000, 1)})


def flood(database_url: str, storage_uri: str = "", texts: int = 30, others: int = 15) -> Outcome:
    """One number sends `texts` texts in a burst while `others` numbers text as usual.

    With counters in memory each worker counts on its own, so the run uses one worker; with
    Redis (storage_uri) it uses four, which share the count.
    """
    extra = {"RATELIMIT_STORAGE_URI": storage_uri, "HELPLINE_RATE_LIMIT_PREFIX": f"flood-{os.getpid()}"}
    server, token = _server(database_url, 4 if storage_uri else 1, **(extra if storage_uri else {}))
    answered: dict[str, list[int]] = {}

    def converse(sender: str, bodies: list[str]) -> None:
        cookie, counts = "", []
        for body in bodies:
            status, messages, cookie = text(server, token, sender, body, cookie)
            counts.append(len(messages) if status == 200 else -1)
        answered[sender] = counts

    try:
        threads = [threading.Thread(target=converse, args=("+18605550999", ["hi"] * texts))]
        threads += [threading.Thread(target=converse, args=(f"+186055510{n:02d}", ["hi", "2", "1", "0", "hotline"]))
                    for n in range(others)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        server.cleanup()
    flooder = answered.get("+18605550999", [])
    rest = [c for s, c in answered.items() if s != "+18605550999"]
    cut_off = flooder[:10] == [1] * 10 and all(c == 0 for c in flooder[10:]) and len(flooder) == texts
    served = len(rest) == others and all(all(n >= 1 for n in c) for c in rest)
    return Outcome(f"flood ({'Redis, 4 workers' if storage_uri else 'memory, 1 worker'})", cut_off and served, {
        "flooding number: answered / empty": f"{sum(1 for c in flooder if c > 0)} / {flooder.count(0)}",
        "other numbers answered": f"{sum(1 for c in rest for n in c if n >= 1)} of {sum(len(c) for c in rest)}"})


def database_down_at_start() -> Outcome:
    """The database cannot be reached when the line starts."""
    server, token = _server(DOWN_URL, 1)
    try:
        status, body = health(server)
        _, danger, _ = text(server, token, "+18605550777", "help me now")
        _, menu, _ = text(server, token, "+18605550778", "hotline")
    finally:
        server.cleanup()
    held = status == 503 and "911" in "\n".join(danger) and "1-888-373-7888" in "\n".join(menu)
    return Outcome("database down at start", held, {
        "/healthz": f"{status} {body.strip()[:80]}", "'help me now' answer has 911": "911" in "\n".join(danger),
        "'hotline' answer has the national hotline": "1-888-373-7888" in "\n".join(menu)})


@contextlib.contextmanager
def _own_database(postgres_url: str, purpose: str):
    """A PostgreSQL database of the scenario's own (created, then dropped): (its URL, an admin engine)."""
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql
    from sqlalchemy.engine import make_url

    from bot.directory.database import database_url

    name = f"helpline_{purpose}_{os.getpid()}"
    admin = create_engine(database_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sql(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False), admin, name
    finally:
        with admin.connect() as connection:
            connection.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_gone_while_running(postgres_url: str) -> Outcome:
    """The line's PostgreSQL database is dropped (its connections killed) while the line runs."""
    from sqlalchemy import text as sql

    with _own_database(postgres_url, "gone") as (own, admin, name):
        server, token = _server(own, 2, HELPLINE_DIRECTORY_REFRESH_SECONDS="0")
        try:
            before, _ = health(server)
            with admin.connect() as connection:
                connection.execute(sql(f'DROP DATABASE "{name}" WITH (FORCE)'))
            answers = [text(server, token, f"+186055507{n:02d}", body)[1]
                       for n, body in enumerate(["hi", "help me now", "hotline", "clinic"] * 3)]
            time.sleep(0.2)
            after, body = health(server)
        finally:
            server.cleanup()
    held = before == 200 and after == 503 and all(answers) and "911" in "\n".join(answers[1])
    return Outcome("database gone while running (PostgreSQL)", held, {
        "/healthz before / after": f"{before} / {after} {body.strip()[:60]}",
        "texts answered after it went": f"{sum(1 for a in answers if a)} of {len(answers)}"})


HELD_TEXTS = ["hi", "help me now", "hotline", "clinic", "1", "necesito un abogado"]
ANSWER_BUDGET = 3.0  # seconds: a texter never waits longer because of the database
HEALTH_BUDGET = 10.0  # seconds: /healthz says 503 within this of the database hanging
START_BUDGET = 10.0  # seconds: the server listens within this of start, database hung or not


def _through(relay_port: int, postgres_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(postgres_url).set(host="127.0.0.1", port=relay_port).render_as_string(hide_password=False)


def _held_texts(server: Server, token: str) -> tuple[list[float], list[list[str]]]:
    """Send the held-database texts one after another: (seconds each took, the messages)."""
    took, answers = [], []
    for n, body in enumerate(HELD_TEXTS * 2):
        started = time.monotonic()
        status, messages, _ = text(server, token, f"+186055508{n:02d}", body)
        took.append(time.monotonic() - started)
        answers.append(messages if status == 200 else [])
    return took, answers


def _health_503_within(server: Server, budget: float) -> float | None:
    """Seconds until /healthz says 503, or None if it did not within the budget."""
    started = time.monotonic()
    while time.monotonic() - started < budget:
        try:
            status, _ = health(server)
        except OSError:
            status = 0
        if status == 503:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def _held_outcome(name: str, took: list[float], answers: list[list[str]], to_503: float | None,
                  extra: dict[str, object]) -> Outcome:
    with_911 = sum(1 for a in answers if "911" in "\n".join(a))
    held = max(took) <= ANSWER_BUDGET and with_911 == len(answers) and to_503 is not None
    return Outcome(name, held, {**extra, "texts answered with 911": f"{with_911} of {len(answers)}",
                                "slowest answer (s)": round(max(took), 2),
                                "/healthz 503 after (s)": "never" if to_503 is None else round(to_503, 1)})


def database_held_at_start(postgres_url: str) -> Outcome:
    """PostgreSQL accepts connections but never answers, from before the line starts."""
    from bench.relay import Relay

    relay = Relay(5432).start()
    relay.hold()
    token, secret = new_secrets()
    env = webhook_env(_through(relay.port, postgres_url), token, secret)
    server = Server(WEBHOOK_APP, 1, env).start()
    try:
        started = time.monotonic()
        try:
            _wait(server, timeout=START_BUDGET)
            listening = time.monotonic() - started
        except RuntimeError:
            listening = None
        if listening is None:
            return Outcome("database held at start (PostgreSQL)", False, {"listening after (s)": "never"})
        took, answers = _held_texts(server, token)
        to_503 = _health_503_within(server, HEALTH_BUDGET)
    finally:
        server.cleanup()
        relay.stop()
    outcome = _held_outcome("database held at start (PostgreSQL)", took, answers, to_503,
                            {"listening after (s)": round(listening, 1)})
    outcome.held = outcome.held and listening <= START_BUDGET
    return outcome


def database_held_while_running(postgres_url: str, workers: int = 2) -> Outcome:
    """PostgreSQL stops answering (without refusing) while the line runs and writes its counts."""
    from bench.relay import Relay

    relay = Relay(5432).start()
    with _own_database(postgres_url, "held") as (own, _, _):
        server, token = _server(_through(relay.port, own), workers, HELPLINE_DIRECTORY_REFRESH_SECONDS="0",
                                HELPLINE_STATS_FLUSH_SECONDS="0")
        try:
            for n, body in enumerate(HELD_TEXTS):  # the workers have live connections to the database
                text(server, token, f"+186055509{n:02d}", body)
            before, _ = health(server)
            relay.hold()
            held_at = time.monotonic()
            took, answers = _held_texts(server, token)
            to_503 = _health_503_within(server, max(0.0, HEALTH_BUDGET - (time.monotonic() - held_at)))
            to_503 = None if to_503 is None else time.monotonic() - held_at
        finally:
            server.cleanup()
            relay.stop()
    outcome = _held_outcome(f"database held while running (PostgreSQL, {workers} workers)", took, answers,
                            to_503, {"/healthz before": before})
    outcome.held = outcome.held and before == 200
    return outcome


def counts_under_load(postgres_url: str, seconds: float, senders: int = SENDERS, workers: int = WORKERS) -> Outcome:
    """Four workers flushing their counts to PostgreSQL together, every 0.2 s, under load: none lost."""
    from sqlalchemy import create_engine
    from sqlalchemy import text as sql

    from bot.directory.database import database_url

    with _own_database(postgres_url, "counts") as (own, _, _):
        server, token = _server(own, workers, HELPLINE_STATS_FLUSH_SECONDS="0.2")
        try:
            pool = ConversationPool(build_conversations(server.url, token, 10_000, seed=7))
            turn = run_turn("counts", HOST, server.port, pool, seconds, connections=senders)
        finally:
            server.stop()  # SIGTERM: each worker writes what it still holds
            log = server.log_text()
            server.cleanup()
        engine = create_engine(database_url(own))
        with engine.connect() as connection:
            counted = connection.execute(sql("SELECT COALESCE(SUM(count), 0) FROM daily_count")).scalar()
        engine.dispose()
    answered = turn.ok - turn.empty  # answers with a message: each is counted once
    deadlocks, dropped = log.count("Deadlock"), log.count("dropped")
    held = deadlocks == 0 and dropped == 0 and answered <= counted <= answered + senders
    return Outcome(f"counts under load (PostgreSQL, {workers} workers)", held, {
        "texts answered in the turn": answered, "counted in the database": counted,
        "deadlocks": deadlocks, "'dropped' in the log": dropped})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resilience", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    parser.add_argument("--postgres", help="a PostgreSQL URL (a superuser's: the run creates and drops a database); "
                        "empty to skip", default=os.environ.get("HELPLINE_TEST_POSTGRES_URL",
                                                               "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", help="a Redis URL for the shared flood counters; empty to skip",
                        default=os.environ.get("HELPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="helpline-resilience-"))
    outcomes = [load(f"sqlite:///{folder / 'load.db'}", args.seconds)]
    if args.postgres:
        outcomes.append(load(args.postgres, args.seconds))
        outcomes[-1].name += " (PostgreSQL)"
        outcomes[0].name += " (SQLite)"
    outcomes.append(flood(f"sqlite:///{folder / 'flood.db'}"))
    if args.redis:
        outcomes.append(flood(f"sqlite:///{folder / 'flood-redis.db'}", args.redis))
    outcomes.append(database_down_at_start())
    if args.postgres:
        outcomes.append(database_gone_while_running(args.postgres))
        outcomes.append(database_held_at_start(args.postgres))
        outcomes.append(database_held_while_running(args.postgres))
        outcomes.append(counts_under_load(args.postgres, args.seconds))
    shutil.rmtree(folder, ignore_errors=True)
    for outcome in outcomes:
        print(f"{'held' if outcome.held else 'FAILED':6}  {outcome.name}")
        for key, value in outcome.numbers.items():
            print(f"        {key}: {value}")
    return 0 if all(o.held for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
