"""Anonymous counts: texts and conversations per day, campaign, topic, language, channel and line (the
line's own number texted). Nothing else.

No row is about a person and no time is finer than a day. A conversation is one more count in the
same row, added once, by the text that starts it. Counting happens in memory and is written in
batches after answers are sent, so it never slows or blocks a reply; counts that cannot be written
are dropped. What people see of the counts (`helpline stats`, its --json and --csv, /admin) is
made here: protected (no count under SMALL, nor anything it could be worked out from) and labelled
from the flows the line runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.directory.hsds.write import spreadsheet_safe
from bot.directory.models import DailyCount

if TYPE_CHECKING:
    from bot.engine.flows import Flows

log = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0
SMALL = 5  # no count below this is shown to people, nor anything it could be worked out from (Shown)
UNDER = range(1, SMALL)  # a count under SMALL (none is not one)

KEYS = ("day", "campaign", "topic", "language", "channel", "line")
LINE_LENGTH = 20  # the longest number kept as a line (DailyCount.line)


@dataclass(frozen=True)
class TextAnswered:
    """One text answered: the only event the line counts. `starts`: it started a conversation (no
    live conversation before it, one kept after it), so it is counted as a conversation too."""

    day: dt.date
    campaign: str
    topic: str
    language: str
    channel: str
    starts: bool = False
    line: str = ""  # the line's own number texted, when listed (counted_line); "": any other


def counted_line(to: str, lines: Collection[str]) -> str:
    """The line a text is counted under: the number texted (`To`) only when one of the deployment's (`lines`),
    WhatsApp's as its number; "" for any other `To`, so nothing a sender controls is kept and the rows stay few."""
    if to not in lines:
        return ""
    number = to.removeprefix("whatsapp:")
    return number if len(number) <= LINE_LENGTH else ""


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


BREAKDOWNS = ("campaign", "topic", "language", "channel", "line")


def tallies(rows: Iterable[Mapping[str, Any]], by_time: Callable[[Mapping[str, Any]], str],
            measure: str = "count") -> dict[str, Counter[str]]:
    """Rows counted by time (a day or a week) and by each of BREAKDOWNS: texts ("count") or "conversations"."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in ("time", *BREAKDOWNS)}
    for row in rows:
        n = row.get(measure, 0)
        counts["time"][by_time(row)] += n
        for name in BREAKDOWNS:
            counts[name][row.get(name, "")] += n
    return counts


def _tells(hidden: Mapping[str, int], low: Mapping[str, int], high: Mapping[str, int] | None) -> bool:
    """Whether what one measure of a breakdown shows tells a count under SMALL the other hides (each in
    [low, high]: conversations at most the texts, texts at least the conversations; the total known): no
    one moved between its value and another keeps every count in bounds and one under SMALL left."""
    under = sum(n in UNDER for n in hidden.values())

    def hides(a: str, b: str) -> bool:  # one moved from b to a: in bounds, and a count under SMALL left
        before, after = (hidden[a], hidden[b]), (hidden[a] + 1, hidden[b] - 1)
        left = under - sum(n in UNDER for n in before) + sum(n in UNDER for n in after)
        return (high is None or hidden[a] < high[a]) and hidden[b] > low.get(b, 0) and left > 0
    return any(n in UNDER and not any(hides(a, b) for other in hidden if other != value
                                      for a, b in ((value, other), (other, value))) for value, n in hidden.items())


def _breakdown(texts: Counter[str], conversations: Counter[str] | None) -> Breakdown:
    """A breakdown's texts and conversations, each protected (protect), and both only all together when
    what one shows would tell a count the other hides (_tells), shown as when both have a count under
    SMALL (which, is not said); conversations None: too few in all."""
    shown = Breakdown(protect(texts), protect(conversations) if conversations is not None else None)
    if shown.conversations is None or bool(shown.texts.others) == bool(shown.conversations.others):
        return shown
    told = (_tells(texts, conversations, None) if shown.texts.others
            else _tells({k: conversations[k] for k in texts}, {}, texts))
    return Breakdown(Shown({}, shown.texts.total), Shown({}, shown.conversations.total)) if told else shown


@dataclass(frozen=True)
class Line:
    """One line of a breakdown as people see it: a value (None: all together), its counts (None: not shown here)."""

    key: str | None
    texts: int | None
    conversations: int | None


@dataclass(frozen=True)
class Breakdown:
    """Texts and conversations by one thing (day, campaign, ...), each protected on its own (Shown).

    Conversations are fewer than texts, so they are often shown only all together where texts are
    shown one by one. Every conversation is also a text, so what one measure shows bounds the other's
    counts: where it would tell one the other hides, both are shown only all together (_breakdown).
    tests/test_stats.py searches for a table of counts that would show the same."""

    texts: Shown
    conversations: Shown | None  # None: fewer than SMALL conversations in all, so none is shown

    def lines(self, chronological: bool = False) -> list[Line]:
        """A line per value shown (largest first, or in time order), then, when a count is shown
        only all together, one line with those totals only: each column adds up to its total."""
        conversations = self.conversations.counts if self.conversations is not None else {}
        keys = [*self.texts.counts, *(k for k in conversations if k not in self.texts.counts)]
        if chronological:
            keys.sort()
        lines = [Line(k, self.texts.counts.get(k), conversations.get(k)) for k in keys]
        hidden = (self.texts.others or None,
                  (self.conversations.others or None) if self.conversations is not None else None)
        if any(hidden):
            lines.append(Line(None, *hidden))
        return lines


@dataclass(frozen=True)
class Summary:
    """The counts of a window as people may see them."""

    total_texts: int  # not for people when under SMALL (see texts)
    total_conversations: int
    breakdowns: dict[str, Breakdown] = field(default_factory=dict)  # "time", *BREAKDOWNS; {} under SMALL texts

    @property
    def texts(self) -> int | None:
        """All texts, or None when fewer than SMALL (too few to show, even as a total)."""
        return self.total_texts if self.total_texts >= SMALL else None

    @property
    def conversations(self) -> int | None:
        return self.total_conversations if self.texts is not None and self.total_conversations >= SMALL else None


def summarize(rows: Iterable[Mapping[str, Any]], by_time: Callable[[Mapping[str, Any]], str]) -> Summary:
    """Rows (see `rows`) as people may see them: each breakdown of texts and of conversations protected
    (_breakdown); none under SMALL texts in all (then even the total would tell a small count)."""
    rows = list(rows)
    total_texts, total_conversations = sum(r["count"] for r in rows), sum(r.get("conversations", 0) for r in rows)
    if total_texts < SMALL:
        return Summary(total_texts, total_conversations)
    texts, conversations = tallies(rows, by_time), tallies(rows, by_time, "conversations")
    return Summary(total_texts, total_conversations, {name: _breakdown(texts[name], conversations[name] if
                   total_conversations >= SMALL else None) for name in texts})  # None: fewer than SMALL in all


LANGUAGES = {"en": "English", "es": "Spanish"}
CHANNELS = {"sms": "SMS", "whatsapp": "WhatsApp"}
TOPICS = {"welcome": "main menu", "fallback": "not understood", "ask": "which one? question",  # pages no option
          "help": "asked for HELP", "forget": "asked to FORGET", "optout": "opted out (STOP)"}  # leads to
NO_CARD = "no card word"
NOT_KNOWN = "not known"
OTHER_NUMBERS = "other numbers"  # the line of texts to a number not listed in campaigns.yaml (or none)
ALL = "all together"  # the line of a breakdown with the counts shown only all together
NAMES = {"time": "day", "campaign": "card word", **{name: name for name in ("topic", "language", "channel", "line")}}
HIDDEN = "–"  # a count not shown on its line: none, or shown only all together


@dataclass(frozen=True)
class Labels:
    """What people read for a counted value: the flows' own words, not the codes kept in the rows."""

    campaigns: Mapping[str, str] = field(default_factory=dict)  # tag -> its card word(s): "SAFE", "SALUD / HEALTH"
    topics: Mapping[str, str] = field(default_factory=dict)  # flow -> the title of its first page ("Getting out")
    teams: Mapping[str, str] = field(default_factory=dict)  # a line's number -> its team's name

    @classmethod
    def of(cls, flows: Flows | None) -> Labels:
        """The labels of the flows a line runs (None: no flows, the codes themselves)."""
        if flows is None:
            return cls()
        words: dict[str, list[str]] = {}
        for campaign in flows.campaigns.values():
            words.setdefault(campaign.tag, []).append(campaign.word)
        lang = "en" if "en" in flows.languages or not flows.languages else flows.languages[0]
        topics: dict[str, str] = {}
        for node in flows.nodes:  # the menu option leading to a flow's first page ("out"), or to its first page titled
            topic, title = node.split(".", 1)[0], flows.titles.get((node, lang))
            if title and (node == topic or topic not in topics):
                topics[topic] = title
        teams = {number.removeprefix("whatsapp:"): line.team.name  # as counted_line keeps it; the first listed
                 for number, line in reversed(flows.lines.items()) if line.team is not None}
        return cls({tag: " / ".join(w) for tag, w in words.items()}, topics, teams)

    def label(self, breakdown: str, key: str | None) -> str:
        """A value of a breakdown ("time", *BREAKDOWNS) as people read it; None: all values together."""
        if key is None:
            return ALL
        if breakdown == "campaign":
            return self.campaigns.get(key, key) if key else NO_CARD
        if breakdown == "topic":
            return self.topics.get(key) or TOPICS.get(key) or key or NOT_KNOWN
        if breakdown == "language":
            return LANGUAGES.get(key, key or NOT_KNOWN)
        if breakdown == "channel":
            return CHANNELS.get(key, key or NOT_KNOWN)
        if breakdown == "line":
            return f"{self.teams[key]} ({key})" if key in self.teams else key or OTHER_NUMBERS
        return key


def _window(days: int) -> str:
    return "today" if days == 1 else f"in the last {days} days"


def _cell(n: int | None) -> str:
    return HIDDEN if n is None else str(n)


RULE = (f"A count under {SMALL} is never shown, nor anything it could be worked out from: where a breakdown has one, "
        f"that column shows only its total ({ALL!r}), and so does the other where what it showed would tell that "
        f"count. {HIDDEN}: none, or counted only in that total. A conversation "
        "is counted once, by the text that starts it. Each worker writes its counts in batches, every "
        "HELPLINE_STATS_FLUSH_SECONDS: a text shows up here within about that long.")


def as_table(summary: Summary, labels: Labels, days: int) -> str:
    """The counts as `helpline stats` prints them: a table per breakdown, labelled."""
    if summary.total_texts == 0:
        return f"no texts counted {_window(days)}"
    if summary.texts is None:
        return f"fewer than {SMALL} texts {_window(days)}: too few to show"
    conversations = (f"{summary.conversations} conversations" if summary.conversations is not None
                     else f"fewer than {SMALL} conversations")
    out = [f"{summary.texts} texts and {conversations} {_window(days)}"]
    tables = {name: b.lines(chronological=name == "time") for name, b in summary.breakdowns.items()}
    width = max(24, *(len(labels.label(name, line.key)) for name, lines in tables.items() for line in lines))
    for name, lines in tables.items():
        out += ["", f"by {NAMES[name]:<{width - 1}} {'texts':>7} {'conversations':>14}"]
        out += [f"  {labels.label(name, line.key):<{width}} {_cell(line.texts):>7} {_cell(line.conversations):>14}"
                for line in lines]
    return "\n".join([*out, "", textwrap.fill(RULE, 100)])


def as_json(summary: Summary, labels: Labels, days: int) -> dict[str, Any]:
    """The counts as `helpline stats --json` gives them: the same lines, labelled; null where not shown."""
    return {"days": days, "texts": summary.texts, "conversations": summary.conversations, "breakdowns": {
        NAMES["time"] if name == "time" else name: [
            {"key": line.key, "label": labels.label(name, line.key), "texts": line.texts,
             "conversations": line.conversations} for line in b.lines(chronological=name == "time")]
        for name, b in summary.breakdowns.items()}}


def as_csv(summary: Summary, labels: Labels) -> str:
    """The counts as `helpline stats --csv` gives them: a row per line of each breakdown (breakdown,
    label, texts, conversations), after a row of the totals; an empty cell where a count is not
    shown. Each breakdown's column adds up to the total. Cells a spreadsheet could run are escaped."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("breakdown", "label", "texts", "conversations"))
    rows: list[tuple[str, str, int | None, int | None]] = [("total", ALL, summary.texts, summary.conversations)]
    for name, b in summary.breakdowns.items():
        rows += [(NAMES[name], labels.label(name, line.key), line.texts, line.conversations)
                 for line in b.lines(chronological=name == "time")]
    writer.writerows((spreadsheet_safe(what), spreadsheet_safe(label), "" if texts is None else texts,
                      "" if conversations is None else conversations) for what, label, texts, conversations in rows)
    return out.getvalue()


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
    """Add counts to their rows (insert, or add to the existing counts) in one transaction.

    The rows go in one order, the same in every worker (day, campaign, topic, language,
    channel, line), so two workers flushing at once wait for each other instead of deadlocking.
    """
    table = DailyCount.__table__
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    grouped: dict[tuple, list[int]] = {}  # a row's key -> [texts, conversations]
    for event, n in counts.items():
        row = grouped.setdefault(tuple(getattr(event, k) for k in KEYS), [0, 0])
        row[0] += n
        row[1] += n if event.starts else 0
    ordered = sorted(grouped.items(), key=lambda item: tuple(str(v) for v in item[0]))
    rows = [{**dict(zip(KEYS, key, strict=True)), "count": n, "conversations": c} for key, (n, c) in ordered]
    with engine.begin() as connection:
        for start in range(0, len(rows), UPSERT_ROWS):
            statement = insert(table).values(rows[start:start + UPSERT_ROWS])
            statement = statement.on_conflict_do_update(
                index_elements=list(KEYS), set_={"count": table.c.count + statement.excluded.count,
                                                 "conversations": table.c.conversations
                                                 + statement.excluded.conversations}
            )
            connection.execute(statement)


def rows(engine: Engine, days: int, today: dt.date) -> list[dict]:
    """The counts of the last `days` days, newest first."""
    since = today - dt.timedelta(days=days - 1)
    with Session(engine) as session:
        result = session.scalars(
            select(DailyCount).where(DailyCount.day >= since)
            .order_by(DailyCount.day.desc(), DailyCount.campaign, DailyCount.topic,
                      DailyCount.language, DailyCount.channel, DailyCount.line)
        )
        return [{"day": r.day.isoformat(), "campaign": r.campaign, "topic": r.topic, "language": r.language,
                 "channel": r.channel, "line": r.line, "count": r.count, "conversations": r.conversations}
                for r in result]
