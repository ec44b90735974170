"""GET /admin: the anonymous counts and the directory's checks, for the people who run the line.

The page exists only when HELPLINE_ADMIN_PASSWORD is set. It can show nothing about a texter
because the line keeps nothing: only daily counts (bot/stats.py) and the resource directory.
Charts are inline SVG drawn on the server: no script, no font, no file from anywhere else."""

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

from bot import stats
from bot.directory.snapshot import STALE_DAYS
from bot.engine.conversation import EXPIRY_SECONDS
from bot.web.charts import Chart, ServiceAge, age_chart, bar_chart, weekly_chart
from bot.web.lockout import Lockout

log = logging.getLogger(__name__)


bp = Blueprint("admin", __name__, template_folder="templates")
CHALLENGE = 'Basic realm="helpline admin", charset="UTF-8"'
LOGIN_LIMIT = 10  # wrong passwords a minute per client address, all workers together: stops guessing, not a typo
WEEKS = 12
READ_SECONDS = 5.0  # the page says "counts unavailable" rather than wait longer for the database
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


@dataclass(frozen=True)
class Counts:
    weeks: tuple[dt.date, ...]  # the Monday of each week, oldest first
    summary: stats.Summary  # by "time" (week), campaign, topic, language, channel, line; none under 5 texts

    @property
    def empty(self) -> bool:
        """No text at all (said plainly, unlike a few: a count under 5 is never shown)."""
        return self.summary.total_texts == 0


def first_monday(today: dt.date, weeks: int = WEEKS) -> dt.date:
    return today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)


def aggregate(rows: Iterable[Mapping[str, Any]], today: dt.date, weeks: int = WEEKS) -> Counts:
    """Daily count rows (bot.stats.rows) of the last `weeks` weeks as protected breakdowns of texts and
    conversations by week, campaign, topic, language, channel and line."""
    start = first_monday(today, weeks)
    mondays = tuple(start + dt.timedelta(weeks=i) for i in range(weeks))

    def day_of(row: Mapping[str, Any]) -> dt.date:
        return dt.date.fromisoformat(row["day"]) if isinstance(row["day"], str) else row["day"]

    kept = [row for row in rows if 0 <= (day_of(row) - start).days < weeks * 7]
    summary = stats.summarize(kept, lambda row: (start + dt.timedelta(weeks=(day_of(row) - start).days // 7))
                              .isoformat())
    return Counts(mondays, summary)


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
    if counts is not None and counts.summary.breakdowns:
        shown = counts.summary.breakdowns
        labels = stats.Labels.of(current_app.extensions["helpline"].flows)  # the words of the flows the line runs

        def chart(chart_id: str, title: str, name: str, short: Callable[[str | None], str] | None = None) -> Chart:
            return bar_chart(chart_id, title, stats.NAMES[name], shown[name], lambda key: labels.label(name, key),
                             short)

        charts = {"weekly": weekly_chart(counts.weeks, shown["time"]),
                  "campaigns": chart("campaigns", "Card words", "campaign"),
                  "topics": chart("topics", "Topics", "topic"),
                  "languages": chart("languages", "Languages", "language"),
                  "channels": chart("channels", "Channels", "channel"),
                  "lines": chart("lines", "Lines (the numbers texted)", "line",  # a bar's label: the team alone
                                 lambda key: labels.teams.get(key or "") or labels.label("line", key))}
    return render_template("admin.html", today=today, counts=counts, charts=charts, weeks=WEEKS,
                           small=stats.SMALL, expiry_minutes=EXPIRY_SECONDS // 60, stale_days=STALE_DAYS,
                           directory=directory_status(today))


def init_app(app: Flask) -> None:
    """Register /admin, only when an admin password is configured (otherwise it does not exist: 404)."""
    if app.config.get("ADMIN_PASSWORD") and bp.name not in app.blueprints:
        app.extensions["admin_lockout"] = Lockout(LOGIN_LIMIT, 60)  # made before gunicorn forks: shared
        app.register_blueprint(bp)
