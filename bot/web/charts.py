"""The dashboard's charts as plain SVG shapes, drawn on the server: bars by campaign, topic,
language and channel; texts per week; days since each service was confirmed. No script runs in
the page, and each chart comes with the table it is drawn from."""

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


ALL = "all together"  # the one row of a breakdown with a count under 5 in it


def _scale(counts: Iterable[int]) -> int:
    """The count drawn at full length: the largest one people may see."""
    return max((n for n in counts if n >= stats.SMALL), default=stats.SMALL)


def bar_chart(chart_id: str, title: str, what: str, shown: stats.Shown, name: Callable[[str], str]) -> Chart:
    """Horizontal bars: every count, largest first; or, when one is under 5, the total alone, hatched."""
    items = [(name(k), n, "bar") for k, n in shown.counts.items()]
    if shown.others:
        items.append((ALL, shown.others, "bar small"))
    label_width = 130
    plot = HALF - label_width - 40
    top = _scale(n for _, n, _ in items)
    rects, texts = [], []
    for i, (label, n, kind) in enumerate(items):
        y = 6 + i * ROW
        length = max(plot * n / top, 2.0)
        rects.append(Rect(label_width, y, round(length, 1), BAR, kind))
        texts.append(Text(label_width - 8, y + 15, _short(label, 18), "label", "end"))
        texts.append(Text(round(label_width + length + 6, 1), y + 15, str(n), "value"))
    table = Table((what, "texts"), tuple((label, str(n)) for label, n, _ in items))
    description = (f"{len(shown.counts)} {what}{'' if len(shown.counts) == 1 else 's'} shown."
                   if not shown.others else f"One {what} has fewer than {stats.SMALL} texts, so only the total "
                   "is shown, hatched: no count under 5 can then be worked out.")
    return Chart(chart_id, title, description, max(6 + len(items) * ROW + 4, 40), table, tuple(rects), tuple(texts),
                 width=HALF)


def weekly_chart(weeks: tuple[dt.date, ...], shown: stats.Shown) -> Chart:
    """Texts per week: a bar per week; or, when a week had under 5, no bars and the total alone."""
    left, bar_area = 10, 120
    slot = (WIDTH - left - 10) / len(weeks)
    bar_width = round(slot * 0.62, 1)
    top = _scale(shown.counts.values())
    base = 10 + bar_area + 16
    rects, texts = [], []
    lines = [Line(left, base, WIDTH - 10, base, "base")]
    rows = []
    for i, week in enumerate(weeks):
        key, x = week.isoformat(), round(left + i * slot + (slot - bar_width) / 2, 1)
        if key in shown.counts:
            n = shown.counts[key]
            height = max(bar_area * n / top, 2.0)
            rects.append(Rect(x, round(base - height, 1), bar_width, round(height, 1), "bar"))
            texts.append(Text(round(x + bar_width / 2, 1), round(base - height - 4, 1), str(n), "value", "middle"))
            rows.append((f"week of {_week_label(week)}", str(n)))
        else:  # few texts or none: which, is not said
            rows.append((f"week of {_week_label(week)}", "–"))
        texts.append(Text(round(left + i * slot + slot / 2, 1), base + 14, _week_label(week), "axis", "middle"))
    if shown.others:
        rows.append(("all weeks together", str(shown.others)))
    description = (f"Texts per week over {len(weeks)} weeks." if not shown.others else
                   f"{shown.others} texts over {len(weeks)} weeks. A week had fewer than {stats.SMALL}, so the weeks "
                   "are not shown one by one: no count under 5 can then be worked out.")
    return Chart("weekly", "Texts per week", description, base + 22, Table(("week", "texts"), tuple(rows)),
                 tuple(rects), tuple(texts), tuple(lines))


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
