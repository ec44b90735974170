"""Anonymous counts: texts per day, campaign, topic, language and channel. Nothing else.

No row is about a person and no time is finer than a day. Counting happens in memory and is
written in batches after answers are sent, so it never slows or blocks a reply; counts that
cannot be written are dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.directory.models import DailyCount

log = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0
SMALL = 5  # counts below this are shown as "<5" to people


KEYS = ("day", "campaign", "topic", "language", "channel")


@dataclass(frozen=True)
class TextAnswered:
    """One text answered: the only event the line counts."""

    day: dt.date
    campaign: str
    topic: str
    language: str
    channel: str


def shown(count: int) -> str:
    """A count as people see it: small numbers are hidden as "<5"."""
    return f"<{SMALL}" if count < SMALL else str(count)


@dataclass(frozen=True)
class Shown:
    """One breakdown (counts by topic, by language, by week...) as people may see it.

    When every count is SMALL or more, each is shown. When any count is under SMALL, only the
    breakdown's total is shown (`others`), with no names: the reader knows which values there can
    be (twelve weeks, English and Spanish, the flows' topics), so a partial merge could still be
    undone by elimination. With the total alone, one text moved between two values leaves what is
    shown as it was, so no count under SMALL can be worked out by any sum or difference.
    """

    counts: dict[str, int]  # shown, largest first; empty when any count was under SMALL
    others: int = 0  # the total, when the counts are not shown (0: they are)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.others


def protect(counts: Mapping[str, int]) -> Shown:
    """A breakdown as people may see it (see Shown)."""
    present = {k: n for k, n in counts.items() if n > 0}
    if any(n < SMALL for n in present.values()):
        return Shown({}, sum(present.values()))
    return Shown(dict(sorted(present.items(), key=lambda kn: (-kn[1], kn[0]))))


BREAKDOWNS = ("campaign", "topic", "language", "channel")


def breakdowns(rows: Iterable[Mapping[str, Any]], by_time: Callable[[Mapping[str, Any]], str]) -> dict[str, Shown]:
    """Counts rows by time (a day or a week) and by each of BREAKDOWNS, each protected; {} when fewer
    than SMALL texts in all (then even the total would tell a small count)."""
    tallies: dict[str, Counter[str]] = {name: Counter() for name in ("time", *BREAKDOWNS)}
    for row in rows:
        tallies["time"][by_time(row)] += row["count"]
        for name in BREAKDOWNS:
            tallies[name][row[name]] += row["count"]
    if sum(tallies["time"].values()) < SMALL:
        return {}
    return {name: protect(counts) for name, counts in tallies.items()}


class Tally:
    """Counts in memory, written to the database in batches, off the reply's path."""

    def __init__(self, engine: Callable[[], Engine | None], flush_seconds: float = FLUSH_SECONDS):
        self._engine = engine
        self.flush_seconds = flush_seconds
        self._pending: Counter[TextAnswered] = Counter()
        self._lock = threading.Lock()
        self._flushed_at = 0.0

    def count(self, event: TextAnswered) -> None:
        """Add one to an event's count (in memory only)."""
        with self._lock:
            self._pending[event] += 1

    def flush_if_due(self, now: float) -> None:
        """Write the pending counts if the last write is old enough."""
        if now - self._flushed_at >= self.flush_seconds:
            self._flushed_at = now
            self.flush()

    def flush(self) -> int:
        """Write the pending counts now; on a database fault, drop them. Returns how many were written."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return 0
        engine = self._engine()
        try:
            if engine is None:
                raise SQLAlchemyError("no database")
            add_counts(engine, pending)
        except SQLAlchemyError as err:
            log.warning("stats: dropped %d counts (%s)", sum(pending.values()), type(err).__name__)
            return 0
        return sum(pending.values())


UPSERT_ROWS = 500  # rows per statement


def add_counts(engine: Engine, counts: Counter[TextAnswered]) -> None:
    """Add counts to their rows (insert, or add to the existing count) in one transaction.

    The rows go in one order, the same in every worker (day, campaign, topic, language,
    channel), so two workers flushing at once wait for each other instead of deadlocking.
    """
    table = DailyCount.__table__
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    ordered = sorted(counts.items(), key=lambda item: tuple(str(getattr(item[0], k)) for k in KEYS))
    rows = [{**{k: getattr(event, k) for k in KEYS}, "count": n} for event, n in ordered]
    with engine.begin() as connection:
        for start in range(0, len(rows), UPSERT_ROWS):
            statement = insert(table).values(rows[start:start + UPSERT_ROWS])
            statement = statement.on_conflict_do_update(
                index_elements=list(KEYS), set_={"count": table.c.count + statement.excluded.count}
            )
            connection.execute(statement)


def rows(engine: Engine, days: int, today: dt.date) -> list[dict]:
    """The counts of the last `days` days, newest first."""
    since = today - dt.timedelta(days=days - 1)
    with Session(engine) as session:
        result = session.scalars(
            select(DailyCount).where(DailyCount.day >= since)
            .order_by(DailyCount.day.desc(), DailyCount.campaign, DailyCount.topic,
                      DailyCount.language, DailyCount.channel)
        )
        return [{"day": r.day.isoformat(), "campaign": r.campaign, "topic": r.topic,
                 "language": r.language, "channel": r.channel, "count": r.count} for r in result]
