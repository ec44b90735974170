"""Opening hours: HSDS schedule rows to `Hours`, and whether a service is open at a moment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


@dataclass(frozen=True)
class Hours:
    """One weekly opening: on these weekdays (0 = Monday), from opens to closes (minutes after midnight)."""

    days: frozenset[int]
    opens: int
    closes: int
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


ALWAYS = (Hours(frozenset(range(7)), 0, 24 * 60),)


@dataclass(frozen=True)
class OpenStatus:
    kind: str  # "24/7" | "open" | "opens"
    at: dt.datetime | None = None  # line-local wall time: when it closes ("open") or next opens ("opens")


def open_status(hours: Sequence[Hours], local: dt.datetime) -> OpenStatus | None:
    """24/7, open now (until when), or when it next opens within a week, at a moment of the line's
    wall time (`Clock.local`); None when unknown."""
    if not hours:
        return None
    today = local.date()
    midnight = dt.datetime.combine(today, dt.time())
    spans = []
    for offset in range(-1, 8):
        day = today + dt.timedelta(days=offset)
        for h in hours:
            if day.weekday() not in h.days or not (h.valid_from or day) <= day <= (h.valid_to or day):
                continue
            closes = h.closes if h.closes > h.opens else h.closes + 24 * 60  # past midnight
            start = midnight + dt.timedelta(days=offset, minutes=h.opens)
            spans.append((start, midnight + dt.timedelta(days=offset, minutes=closes)))
    merged: list[list[dt.datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        if start <= midnight - dt.timedelta(days=1) and end >= midnight + dt.timedelta(days=8):
            return OpenStatus("24/7")
        if start <= local < end:
            return OpenStatus("open", end)
        if start > local:
            return OpenStatus("opens", start)
    return None


def always_open(hours: Iterable[Hours]) -> bool:
    """Open every day around the clock, with no end date."""
    lasting = [h for h in hours if h.valid_from is None and h.valid_to is None]
    status = open_status(lasting, dt.datetime(2000, 1, 3))  # any day: the rule has no dates
    return status is not None and status.kind == "24/7"


def _minutes(text: str) -> int:
    hour, minute = int(text[:2]), int(text[3:5])
    return 24 * 60 if (hour, minute) == (23, 59) else hour * 60 + minute


def read_hours(row: Mapping[str, Any]) -> Hours | None:
    """A schedule row as weekly hours; None when it is not a plain weekly rule this line reads."""
    if row.get("freq") not in (None, "WEEKLY") or (row.get("interval") or 1) != 1:
        return None
    if any(row.get(k) for k in ("byweekno", "bymonthday", "byyearday", "count")):
        return None
    if not (row.get("byday") and row.get("opens_at") and row.get("closes_at")):
        return None
    days = [d.strip().upper() for d in str(row["byday"]).split(",") if d.strip()]
    if not days or any(d not in _WEEKDAYS for d in days):
        return None
    starts = [d for d in (row.get("valid_from"), row.get("dtstart")) if d]
    ends = [d for d in (row.get("valid_to"), row.get("until")) if d]
    return Hours(frozenset(_WEEKDAYS[d] for d in days), _minutes(row["opens_at"]), _minutes(row["closes_at"]),
                 max(starts, default=None), min(ends, default=None))
