"""Per-sender flood limits, counted with the `limits` library in memory or Redis.

This is the library Flask-Limiter is built on, used directly: the webhook checks one key per
text, after the signature, and Flask-Limiter's per-request machinery cost more than a third of
a worker's time (bench/, `python -m bench.profile`).
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, parse_many, storage, strategies

log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0  # how long to count in memory before trying a failed shared storage again


class Limits:
    """A set of limits ("10 per minute;200 per day") on keys, shared through the storage URI."""

    def __init__(self, spec: str, storage_uri: str = "memory://", namespace: str = "helpline"):
        self.items: list[RateLimitItem] = parse_many(spec)
        self.namespace = namespace
        # A shared store that stops answering must not hold a text up: short timeouts, then memory.
        options = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25} if storage_uri.startswith("redis") else {}
        self._shared = strategies.FixedWindowRateLimiter(storage.storage_from_string(storage_uri, **options))
        self._memory = strategies.FixedWindowRateLimiter(storage.MemoryStorage())
        self._failed_at: float | None = None

    @property
    def strategy(self) -> strategies.FixedWindowRateLimiter:
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
