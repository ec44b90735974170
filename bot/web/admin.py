"""GET /admin: the anonymous counts and the directory's checks, for the people who run the line.

The page exists only when HELPLINE_ADMIN_PASSWORD is set. It can show nothing about a texter
because the line keeps nothing: only daily counts (bot/stats.py) and the resource directory.
Charts are inline SVG drawn on the server: no script, no font, no file from anywhere else.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from bot import directory, stats
from bot.web.lockout import Lockout

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, template_folder="templates")

CHALLENGE = 'Basic realm="helpline admin", charset="UTF-8"'
LOGIN_LIMIT = 10  # wrong passwords a minute per client address, all workers together: stops guessing, not a typo
WEEKS = 12
READ_SECONDS = 5.0  # the page says "counts unavailable" rather than wait longer for the database
STALE_DAYS = getattr(directory, "STALE_DAYS", 180)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": ", ".join(f"{feature}=()" for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
        "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "sync-xhr", "usb",
        "xr-spatial-tracking")),
    "X-Robots-Tag": "noindex, nofollow",
}

LANGUAGES = {"en": "English", "es": "Spanish"}
CHANNELS = {"sms": "SMS", "whatsapp": "WhatsApp"}
TOPICS = {"out": "ways out", "optout": "opt-out (STOP)"}
NONE = "(none)"

# Drawing, in SVG user units (the charts scale to the page's width).
WIDTH = 880
HALF = 430  # a chart in one of two columns
ROW, BAR = 30, 20  # horizontal bars: row pitch, bar thickness


# What the template draws: geometry is decided here, markup there.


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


# The counts.


@dataclass(frozen=True)
class Counts:
    weeks: tuple[dt.date, ...]  # the Monday of each week, oldest first
    shown: dict[str, stats.Shown]  # "time" (by week), campaign, topic, language, channel; {} under 5 texts
    texts: int  # how many texts in all, to say there were some even when too few to show

    @property
    def empty(self) -> bool:
        return self.texts == 0


def first_monday(today: dt.date, weeks: int = WEEKS) -> dt.date:
    return today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)


def aggregate(rows: Iterable[Mapping[str, Any]], today: dt.date, weeks: int = WEEKS) -> Counts:
    """Daily count rows (bot.stats.rows) of the last `weeks` weeks as protected breakdowns by week,
    campaign, topic, language and channel."""
    start = first_monday(today, weeks)
    mondays = tuple(start + dt.timedelta(weeks=i) for i in range(weeks))

    def day_of(row: Mapping[str, Any]) -> dt.date:
        return dt.date.fromisoformat(row["day"]) if isinstance(row["day"], str) else row["day"]

    kept = [row for row in rows if 0 <= (day_of(row) - start).days < weeks * 7]
    shown = stats.breakdowns(kept, lambda row: (start + dt.timedelta(weeks=(day_of(row) - start).days // 7))
                             .isoformat())
    return Counts(mondays, shown, sum(row["count"] for row in kept))


def read_counts(today: dt.date) -> Counts | None:
    """The counts of the last WEEKS weeks, pending ones written first; None if the database is unreachable."""
    line = current_app.extensions["helpline"]
    engine = line.directory.engine
    if engine is None:
        return None
    days = (today - first_monday(today)).days + 1
    found: list[Counts] = []

    def read() -> None:  # on its own thread: a database that stops answering must not hold the page
        try:
            line.tally.flush()
            found.append(aggregate(stats.rows(engine, days, today), today))
        except SQLAlchemyError:
            pass

    reader = threading.Thread(target=read, name="admin-counts", daemon=True)
    reader.start()
    reader.join(READ_SECONDS)
    return found[0] if found else None


# The directory's checks.


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


@dataclass(frozen=True)
class DirectoryStatus:
    services: tuple[ServiceAge, ...]  # oldest check first, never-confirmed ones before all
    source: str
    problem: str | None
    chart: Chart = field(repr=False)

    @property
    def active(self) -> int:
        return len(self.services)  # the snapshot holds only services the line may send: active ones

    @property
    def assured(self) -> int:
        return sum(1 for s in self.services if s.assured is not None)

    @property
    def stale(self) -> int:
        return sum(1 for s in self.services if s.stale)


def services_of(snapshot: Any) -> list[Any]:
    """Every service the snapshot may send, once each."""
    return list(snapshot.services)


def directory_status(today: dt.date) -> DirectoryStatus:
    """Every service the line can send, by how long ago a person confirmed it."""
    cache = current_app.extensions["helpline"].directory
    ages = [ServiceAge(view.label["en"], view.name, view.assured_date, _age(today, view.assured_date))
            for view in services_of(cache.snapshot)]
    ages.sort(key=lambda s: (s.age is not None, -(s.age or 0), s.label))
    return DirectoryStatus(tuple(ages), cache.snapshot.source, cache.problem, age_chart(ages))


def _age(today: dt.date, assured: dt.date | None) -> int | None:
    if assured is None:
        return None
    days = (today - assured).days
    return 0 if days == -1 else days  # a day ahead is a time zone (dates are often stamped in UTC), not an error


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


# The page.


def _today() -> dt.date:
    return current_app.config["CLOCK"].today()


def _password_matches() -> bool:
    expected = current_app.config.get("ADMIN_PASSWORD") or ""
    auth = request.authorization
    given = auth.password if auth is not None and auth.type == "basic" and auth.password else ""
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a password may have accents.
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _address() -> str:
    """The client's address (the real one behind a proxy when HELPLINE_TRUST_PROXY says how many hops)."""
    return request.remote_addr or ""


@bp.before_request
def _require_password() -> Response | None:
    """HTTP Basic auth: any user name, the configured password; ten wrong ones a minute per address,
    counted across every worker. A request with no password (a browser's first) counts for nothing."""
    lockout: Lockout = current_app.extensions["admin_lockout"]
    now = current_app.config["CLOCK"].now()
    if lockout.locked(_address(), now):
        return Response("Too many wrong passwords: wait a minute.\n", status=429, mimetype="text/plain",
                        headers={"Retry-After": "60"})
    if _password_matches():
        return None
    if request.authorization is not None:  # a password was given, and it was wrong
        lockout.failed(_address(), now)
    return Response("The dashboard needs the admin password.\n", status=401, mimetype="text/plain",
                    headers={"WWW-Authenticate": CHALLENGE})


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.get("/admin")
def dashboard() -> str:
    today = _today()
    counts = read_counts(today)
    charts = None
    if counts is not None and counts.shown:
        shown = counts.shown
        charts = {
            "weekly": weekly_chart(counts.weeks, shown["time"]),
            "campaigns": bar_chart("campaigns", "Card words", "campaign", shown["campaign"], lambda c: c or NONE),
            "topics": bar_chart("topics", "Topics", "topic", shown["topic"], lambda t: TOPICS.get(t, t or NONE)),
            "languages": bar_chart("languages", "Languages", "language", shown["language"],
                                   lambda c: LANGUAGES.get(c, c or "(not known)")),
            "channels": bar_chart("channels", "Channels", "channel", shown["channel"],
                                  lambda c: CHANNELS.get(c, c or "(not known)")),
        }
    return render_template("admin.html", today=today, counts=counts, charts=charts, weeks=WEEKS,
                           small=stats.SMALL, stale_days=STALE_DAYS, directory=directory_status(today))


def init_app(app: Flask) -> None:
    """Register /admin, only when an admin password is configured (otherwise it does not exist: 404)."""
    if app.config.get("ADMIN_PASSWORD") and bp.name not in app.blueprints:
        app.extensions["admin_lockout"] = Lockout(LOGIN_LIMIT, 60)  # made before gunicorn forks: shared
        app.register_blueprint(bp)
