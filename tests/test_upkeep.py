"""The upkeep thread: database jobs never hold an answer, and a hung one shows on /healthz."""

from __future__ import annotations

import threading
import time

from bot.web.upkeep import STUCK_SECONDS, Upkeep


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_hung_job_never_holds_the_caller_and_is_reported_as_stuck():
    release, entered = threading.Event(), threading.Event()

    def hangs(_now: float) -> None:
        entered.set()
        release.wait(10)

    clock = FakeClock()
    upkeep = Upkeep(hangs, clock=clock)
    started = time.monotonic()
    upkeep.poke()
    upkeep.poke()
    assert time.monotonic() - started < 0.5  # the texter's request only hands the work over
    assert entered.wait(5)
    assert upkeep.stuck() is None  # not yet long enough
    clock.now += STUCK_SECONDS + 1
    assert upkeep.stuck() == STUCK_SECONDS + 1
    release.set()
    deadline = time.monotonic() + 5
    while upkeep.stuck() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert upkeep.stuck() is None


def test_the_exit_flush_waits_at_most_its_timeout():
    upkeep = Upkeep(lambda _now: None)
    started = time.monotonic()
    upkeep.finish(lambda: time.sleep(5), timeout=0.2)
    assert time.monotonic() - started < 2


def test_at_exit_a_flush_in_progress_is_written_before_the_process_ends():
    """Counts a flush had taken out of the tally were lost when the process exited under it."""
    entered, written = threading.Event(), []

    def slow_flush(_now: float) -> None:
        entered.set()
        time.sleep(0.3)  # writing to the database
        written.append("upkeep")

    upkeep = Upkeep(slow_flush)
    upkeep.poke()
    assert entered.wait(5)
    upkeep.finish(lambda: written.append("final"), timeout=3)
    assert written[0] == "upkeep" and written[-1] == "final"


def test_healthz_says_503_with_the_reason_while_a_database_job_hangs(app, monkeypatch):
    line = app.extensions["helpline"]
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    monkeypatch.setattr(line.upkeep, "stuck", lambda: 7.0)
    response = client.get("/healthz")
    assert response.status_code == 503 and "database not answering for 7 s" in response.get_json()["reason"]
