"""Database work done beside the answers, never in front of them.

Writing the counts and checking the directory for new data talk to the database, which can
hang (a server that accepts and never answers). One thread per worker process does that work,
woken after each answer; a texter's request only hands it over. When a job has run longer
than STUCK_SECONDS, `stuck()` says so and /healthz answers 503.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("bot.web.upkeep")

STUCK_SECONDS = 5.0  # a database job running longer than this is a database that does not answer
IDLE_SECONDS = 1.0  # the thread also runs its jobs this often when no text comes


class Upkeep:
    """A worker's background thread for database jobs (started in the process that pokes it)."""

    def __init__(self, job: Callable[[float], None], clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], float] = time.time):
        self._job = job
        self._clock = clock  # how long a job has run (monotonic)
        self._now = now  # the line's clock, handed to the job
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid = -1
        self._started_job: float | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Ask for the jobs to run soon; starts the thread in this process if needed. Never blocks on them."""
        if self._pid != os.getpid():  # after gunicorn forks, each worker starts its own
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._started_job = None
                    self._thread = threading.Thread(target=self._run, name="helpline-upkeep", daemon=True)
                    self._thread.start()
        self._wake.set()

    def stuck(self) -> float | None:
        """How long the running job has waited, when longer than STUCK_SECONDS; else None."""
        started = self._started_job
        if started is None or self._pid != os.getpid():
            return None
        waited = self._clock() - started
        return waited if waited > STUCK_SECONDS else None

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(IDLE_SECONDS)
            self._wake.clear()
            self._started_job = self._clock()
            try:
                self._job(self._now())
            except Exception as err:  # noqa: BLE001 - the thread must outlive any one fault
                log.warning("upkeep: %s in a database job", type(err).__name__)
            finally:
                self._started_job = None

    def finish(self, last: Callable[[], object], timeout: float) -> None:
        """At exit: let a job in progress end (a flush that has taken counts out of the tally
        writes them), then run `last` (the final count flush); wait at most `timeout` seconds in all."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        thread = self._thread
        if thread is not None and self._pid == os.getpid() and thread is not threading.current_thread():
            self._wake.set()
            thread.join(timeout)
        done = threading.Thread(target=last, name="helpline-final-flush", daemon=True)
        done.start()
        done.join(max(0.0, deadline - time.monotonic()))
        if done.is_alive():
            log.warning("upkeep: the database did not answer within %.0f s at exit; counts not written", timeout)
