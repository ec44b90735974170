"""The dashboard's charts as plain SVG shapes, drawn on the server: texts and conversations by
card word, topic, language, channel and line, and per week; days since each service was confirmed. No
script runs in the page, and each chart comes with the table it is drawn from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot import stats
from bot.directory.snapshot import STALE_DAYS

# Drawing, in SVG user units (the charts scale to the page's width).
WIDTH = 880


HALF = 430  # a chart in one of two columns
ROW, BAR = 30, 20  # horizontal bars: row pitch, bar thickness


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    kind: str  # CSS classes: "bar", "bar small", "age stale", ...


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    kind: str  # "label", "value", "axis", "panel"
    anchor: str = "start"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    kind: str


@dataclass(frozen=True)
class Table:
    """A chart's numbers as a table: the fallback for screen readers and for copying."""

    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_kinds: tuple[str, ...] = ()  # a CSS class per row ("stale"), or empty


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    height: float
    table: Table
    rects: tuple[Rect, ...] = ()
    texts: tuple[Text, ...] = ()
    lines: tuple[Line, ...] = ()
    width: float = WIDTH


def _short(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


ALL = stats.ALL  # the one line of a breakdown whose counts are shown only all together
HIDDEN = stats.HIDDEN  # a table cell with no count: none, or counted only all together
TEXTS_BAR, CONVERSATIONS_BAR, PAIR_ROW = 14, 9, 34  # a value's two bars (texts, conversations), and its row


def _scale(counts: Iterable[int | None]) -> int:
    """The count drawn at full length: the largest one people may see."""
    return max((n for n in counts if n is not None and n >= stats.SMALL), default=stats.SMALL)


def _cell(n: int | None) -> str:
    return HIDDEN if n is None else str(n)


def _hidden_note(what: str, breakdown: stats.Breakdown, many: str) -> str:
    """What a breakdown does not show one by one, and why; "" when it shows every count."""
    notes = []
    hidden = breakdown.conversations is not None and breakdown.conversations.others  # conversations all together
    if breakdown.texts.others and hidden:  # either has a count under 5, or one shown would tell the other's (stats)
        notes.append(f"a {what} has fewer than {stats.SMALL} texts or conversations, so both are shown only {many}")
    elif breakdown.texts.others:
        notes.append(f"a {what} has fewer than {stats.SMALL} texts, so texts are shown only {many}")
    if breakdown.conversations is None:
        notes.append(f"fewer than {stats.SMALL} conversations in all, so none is shown")
    elif hidden and not breakdown.texts.others:
        notes.append(f"a {what} has fewer than {stats.SMALL} conversations, so conversations are shown only {many}")
    if not notes:
        return ""
    said = "; ".join(notes)
    return said[0].upper() + said[1:] + f": no count under {stats.SMALL} can then be worked out."


def bar_chart(chart_id: str, title: str, what: str, breakdown: stats.Breakdown,
              name: Callable[[str | None], str], short: Callable[[str | None], str] | None = None) -> Chart:
    """Two bars per value, texts and then the conversations they started, largest first, to one
    scale; a measure with a count under 5 in it is drawn only all together, hatched. `short`: the
    label beside the bars when `name` (the table's) is too long for it."""
    lines = breakdown.lines()
    label_width = 150
    plot = HALF - label_width - 44
    top = _scale(n for line in lines for n in (line.texts, line.conversations))
    rects, texts = [], []
    for i, line in enumerate(lines):
        y, small = 6 + i * PAIR_ROW, " small" if line.key is None else ""
        texts.append(Text(label_width - 8, y + 16, _short((short or name)(line.key), 20), "label", "end"))
        for n, offset, thickness, kind in ((line.texts, 0, TEXTS_BAR, "bar"),
                                           (line.conversations, TEXTS_BAR + 2, CONVERSATIONS_BAR, "bar conv")):
            if n is None:
                continue
            length = max(plot * n / top, 2.0)
            rects.append(Rect(label_width, y + offset, round(length, 1), thickness, kind + small))
            texts.append(Text(round(label_width + length + 6, 1), y + offset + thickness - 2, str(n),
                              "value conv" if "conv" in kind else "value"))
    table = Table((what, "texts", "conversations"),
                  tuple((name(line.key), _cell(line.texts), _cell(line.conversations)) for line in lines))
    description = (_hidden_note(what, breakdown, "all together, hatched") or
                   f"Each {what} counted, with its texts and its conversations.")
    return Chart(chart_id, title, description, max(6 + len(lines) * PAIR_ROW + 2, 40), table, tuple(rects),
                 tuple(texts), width=HALF)


def weekly_chart(weeks: tuple[dt.date, ...], breakdown: stats.Breakdown) -> Chart:
    """Texts and conversations per week, two bars a week; a measure with a week under 5 in it has
    no bars, only its total over the weeks, in the table."""
    left, bar_area = 10, 120
    slot = (WIDTH - left - 10) / len(weeks)
    texts_width, conversations_width = round(slot * 0.36, 1), round(slot * 0.26, 1)
    pair = texts_width + 2 + conversations_width
    conversations = breakdown.conversations.counts if breakdown.conversations is not None else {}
    top = _scale([*breakdown.texts.counts.values(), *conversations.values()])
    base = 10 + bar_area + 16
    rects, texts = [], []
    lines = [Line(left, base, WIDTH - 10, base, "base")]
    rows = []
    for i, week in enumerate(weeks):
        key, x = week.isoformat(), round(left + i * slot + (slot - pair) / 2, 1)
        counted = (breakdown.texts.counts.get(key), conversations.get(key))
        for n, bar_x, bar_width, kind in ((counted[0], x, texts_width, "bar"),
                                          (counted[1], round(x + texts_width + 2, 1), conversations_width,
                                           "bar conv")):
            if n is None:  # few or none: which, is not said
                continue
            height = max(bar_area * n / top, 2.0)
            rects.append(Rect(bar_x, round(base - height, 1), bar_width, round(height, 1), kind))
            texts.append(Text(round(bar_x + bar_width / 2, 1), round(base - height - 4, 1), str(n),
                              "value conv" if "conv" in kind else "value", "middle"))
        rows.append((f"week of {_week_label(week)}", _cell(counted[0]), _cell(counted[1])))
        texts.append(Text(round(left + i * slot + slot / 2, 1), base + 14, _week_label(week), "axis", "middle"))
    hidden = breakdown.lines()[-1]
    if hidden.key is None:
        rows.append(("all weeks together", _cell(hidden.texts), _cell(hidden.conversations)))
    description = (_hidden_note("week", breakdown, "over the weeks together, in the table")
                   or f"Texts and conversations per week over {len(weeks)} weeks.")
    return Chart("weekly", "Texts and conversations per week", description, base + 22,
                 Table(("week", "texts", "conversations"), tuple(rows)), tuple(rects), tuple(texts), tuple(lines))


def _week_label(monday: dt.date) -> str:
    return f"{monday:%b} {monday.day}"


@dataclass(frozen=True)
class ServiceAge:
    label: str
    name: str
    assured: dt.date | None
    age: int | None  # days since a person last confirmed it

    @property
    def stale(self) -> bool:
        """Never confirmed, confirmed too long ago, or dated in the future: a person should look."""
        return self.age is None or self.age > STALE_DAYS or self.age < 0


def _age_text(s: ServiceAge) -> str:
    if s.age is None:
        return "never confirmed"
    if s.age < 0:
        return "date in the future"
    return "today" if s.age == 0 else f"{s.age} day{'s' if s.age != 1 else ''} ago"


def age_chart(services: list[ServiceAge]) -> Chart:
    """One bar per service, as long as the time since its last check; a line marks STALE_DAYS."""
    label_width, top_margin = 300, 22
    plot = WIDTH - label_width - 130
    longest = max(STALE_DAYS * 1.25, *(s.age or 0 for s in services)) if services else STALE_DAYS * 1.25
    x_stale = round(label_width + plot * STALE_DAYS / longest, 1)
    rects, texts = [], []
    for i, s in enumerate(services):
        y = top_margin + i * ROW
        length = plot if s.age is None else max(plot * max(s.age, 0) / longest, 2.0)
        kind = "age never" if s.age is None else "age stale" if s.stale else "age"
        rects.append(Rect(label_width, y, round(length, 1), BAR, kind))
        texts.append(Text(label_width - 8, y + 15, _short(s.label, 38), "label", "end"))
        texts.append(Text(round(label_width + length + 6, 1), y + 15, _age_text(s), "value"))
    bottom = top_margin + len(services) * ROW
    lines = (Line(x_stale, top_margin - 6, x_stale, bottom, "limit"),)
    texts.append(Text(x_stale, top_margin - 10, f"{STALE_DAYS} days: confirm again", "limit", "middle"))
    rows, kinds = [], []
    for s in services:
        check = ("never confirmed" if s.age is None else "date in the future" if s.age < 0
                 else f"older than {STALE_DAYS} days" if s.stale else "ok")
        rows.append((s.label, s.name, s.assured.isoformat() if s.assured else "–",
                     "–" if s.age is None else str(s.age), check))
        kinds.append("stale" if s.stale else "")
    table = Table(("service", "provider", "last confirmed", "days ago", "check"), tuple(rows), tuple(kinds))
    description = (f"{len(services)} services, each drawn as long as the days since a person last confirmed "
                   f"it; a line marks {STALE_DAYS} days, and longer bars are highlighted.")
    return Chart("ages", "Directory: days since each service was last confirmed", description, bottom + 6,
                 table, tuple(rects), tuple(texts), lines)
