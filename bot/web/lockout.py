"""Wrong admin passwords, counted per client address and shared by every worker, never on disk.

The counts live in shared memory made by the process that builds the app (gunicorn's master
under `helpline serve`), so the workers it forks count together: ten wrong passwords a minute
from an address means ten, whatever the number of workers. Addresses are kept only as slots of
a keyed hash whose key is random and held in memory, so the table tells nothing of who tried.
"""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import os

SLOTS = 1024  # distinct addresses tracked at once; two addresses sharing a slot count together


class Lockout:
    """At most `limit` wrong passwords per address per `window` seconds, across forked workers."""

    def __init__(self, limit: int = 10, window: int = 60):
        self.limit, self.window = limit, window
        self._key = os.urandom(32)
        # Per slot: the window it counts in, and how many wrong passwords in that window.
        self._table = multiprocessing.get_context("fork").Array("q", 2 * SLOTS, lock=True)

    def _slot(self, address: str) -> int:
        digest = hmac.new(self._key, address.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:4], "big") % SLOTS

    def _count(self, slot: int, now: float) -> int:
        window = int(now // self.window)
        return self._table[2 * slot + 1] if self._table[2 * slot] == window else 0

    def locked(self, address: str, now: float) -> bool:
        """Whether this address has used up its wrong passwords for the current window."""
        with self._table.get_lock():
            return self._count(self._slot(address), now) >= self.limit

    def failed(self, address: str, now: float) -> None:
        """Count one wrong password from this address."""
        slot, window = self._slot(address), int(now // self.window)
        with self._table.get_lock():
            count = self._count(slot, now)
            self._table[2 * slot], self._table[2 * slot + 1] = window, count + 1
