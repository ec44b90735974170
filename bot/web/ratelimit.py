"""Per-sender flood limits: `limits` items, counted in this process's memory or in Redis.

`limits` is the library Flask-Limiter is built on, used directly: the webhook checks one key
per text, after the signature, and Flask-Limiter's per-request machinery cost more than a third
of a worker's time (bench/, `python -m bench.profile`). In memory the counts are kept here:
limits' own memory storage wakes a thread every 10 ms that walks every key, which with
thousands of senders took a worker's time away from answering.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from limits import RateLimitItem, parse_many, storage, strategies

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0  # how long to count in memory before trying a failed shared storage again
SALT_SECONDS = 2 * 86_400  # a day's sender key stays in Redis past the day's end, then is gone


class Windows:
    """Fixed-window counts in this process's memory; old windows are swept as keys are used."""

    SWEEP_EVERY = 1024

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now  # the line's clock
        self._counts: dict[tuple, tuple[int, int]] = {}  # (namespace, key, amount, period) -> (window, count)
        self._lock = threading.Lock()
        self._uses = 0

    def _slot(self, item: RateLimitItem, namespace: str, key: str) -> tuple[tuple, int]:
        period = item.get_expiry()
        return (namespace, key, item.amount, period), int(self._now() // period)

    def hit(self, item: RateLimitItem, namespace: str, key: str) -> bool:
        """Count one use; whether it is still within the limit."""
        slot, window = self._slot(item, namespace, key)
        with self._lock:
            seen, count = self._counts.get(slot, (window, 0))
            count = count + 1 if seen == window else 1
            self._counts[slot] = (window, count)
            self._uses += 1
            if self._uses % self.SWEEP_EVERY == 0:
                self._sweep()
        return count <= item.amount

    def test(self, item: RateLimitItem, namespace: str, key: str) -> bool:
        """Whether one more use would still be within the limit, without counting it."""
        slot, window = self._slot(item, namespace, key)
        seen, count = self._counts.get(slot, (window, 0))
        return (count if seen == window else 0) < item.amount

    def _sweep(self) -> None:
        now = self._now()
        self._counts = {slot: (window, count) for slot, (window, count) in self._counts.items()
                        if window == int(now // slot[3])}


class Limits:
    """A set of limits ("10 per minute;200 per day") on keys, shared through the storage URI."""

    def __init__(self, spec: str, storage_uri: str = "memory://", namespace: str = "helpline",
                 now: Callable[[], float] = time.time):
        self.items: list[RateLimitItem] = parse_many(spec)
        self.namespace = namespace
        # A shared store that stops answering must not hold a text up: short timeouts, then memory.
        self._memory = Windows(now)  # the shared store (Redis) keeps its own time
        if storage_uri.startswith("memory"):
            self._shared: strategies.FixedWindowRateLimiter | Windows = self._memory
        else:
            redis = storage_uri.startswith("redis")
            options = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25} if redis else {}
            self._shared = strategies.FixedWindowRateLimiter(storage.storage_from_string(storage_uri, **options))
        self._failed_at: float | None = None
        self._salts: dict[str, bytes] = {}  # day -> the random key of that day's sender hashes
        self._own_salt: tuple[str, bytes] = ("", b"")  # the key used while Redis cannot be asked
        self._salt_lock = threading.Lock()

    def salt(self, day: str) -> bytes:
        """The day's random key for hashing senders: never derived from SECRET_KEY, never on disk.

        With Redis it is shared through Redis (set once a day by whichever worker asks first,
        gone the day after), so every worker counts a sender under the same key; in memory,
        each process draws its own, as each keeps its own counts.
        """
        salt = self._salts.get(day)
        if salt is not None:
            return salt
        with self._salt_lock:
            salt = self._salts.get(day)
            if salt is not None:
                return salt
            shared = self._shared_salt(day)
            if shared is not None:
                self._salts = {day: shared}  # yesterday's key is forgotten
                return shared
            # Redis is down: this process's own key for now, asked again of Redis on later texts,
            # so that once it is back every worker counts a sender under one key again.
            if self._own_salt[0] != day:
                self._own_salt = (day, os.urandom(32))
            return self._own_salt[1]

    def _shared_salt(self, day: str) -> bytes | None:
        client = getattr(getattr(self._shared, "storage", None), "storage", None)  # limits' RedisStorage -> redis
        if client is None:
            return os.urandom(32) if self._shared is self._memory else None  # memory: each process its own
        if self.strategy is self._memory:  # Redis failed lately: ask again after RETRY_SECONDS
            return None
        key = f"{self.namespace}:sender-salt:{day}"
        try:
            client.set(key, os.urandom(32), nx=True, ex=SALT_SECONDS)
            return client.get(key)
        except Exception as err:  # Redis down: this process's own key; counts fall back to memory too
            self._failed_at = time.monotonic()
            log.warning("rate limit: shared storage unavailable (%s); counting in memory", type(err).__name__)
            return None

    @property
    def strategy(self) -> strategies.FixedWindowRateLimiter | Windows:
        """The shared counters, or memory ones while the shared storage is unreachable."""
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_SECONDS:
            return self._memory
        return self._shared

    def hit(self, key: str, items: list[RateLimitItem] | None = None) -> bool:
        """Count one use of key; False once any limit is passed. Never raises."""
        return self._call("hit", key, items)

    def test(self, key: str, items: list[RateLimitItem] | None = None) -> bool:
        """Whether key is still within every limit, without counting a use."""
        return self._call("test", key, items)

    def _call(self, method: str, key: str, items: list[RateLimitItem] | None) -> bool:
        strategy = self.strategy
        try:
            return all(getattr(strategy, method)(item, self.namespace, key) for item in items or self.items)
        except Exception as err:  # Redis down, timeouts: count in memory rather than block answers
            if strategy is self._memory:
                raise
            self._failed_at = time.monotonic()
            log.warning("rate limit: shared storage unavailable (%s); counting in memory", type(err).__name__)
            return all(getattr(self._memory, method)(item, self.namespace, key) for item in items or self.items)
