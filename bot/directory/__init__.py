"""The resource directory: HSDS tables in SQLAlchemy, the line's own rules, and the in-memory snapshot.

data/ is an HSDS 3.0 Tabular Data Package (bot/hsds.py reads and writes it; docs/directory.md
says how it is laid out). The database is loaded from it at start (and when it changes);
texts are answered from the snapshot, never with a query per text.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bot.directory import hsds
from bot.engine import places
from bot.engine.flows import FlowError
from bot.errors import ImportRefused
from bot.tables import places as town_tables

log = logging.getLogger(__name__)

DIRECTORY_FILE = hsds.PACKAGE_FILE  # what `helpline load` names as loaded
TIME_ZONE = ZoneInfo(os.environ.get("HELPLINE_TIMEZONE", "America/New_York"))  # the line's clock
STALE_DAYS = 180  # a service not confirmed for this long is flagged

# The line's local taxonomies, attached to services through HSDS attribute rows.
CATEGORY_TAXONOMY = "helpline-category"  # term codes are the categories flows name: hotline.crisis, ...
FEATURE_TAXONOMY = "helpline-feature"  # what matters to a texter, shown briefly in replies
RECORD_TAXONOMY = "helpline-record"  # the attribute's value holds the line's own record of the service
FEATURES = ("24_7", "free", "confidential", "no_id", "walk_in", "spanish", "text_line")
RECORDS = ("source", "note", "label_es")
_KEYWORD = re.compile(r"^\s*keyword\s+([A-Za-z0-9]+)\b", re.IGNORECASE)  # phone.description of a text line
_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


class Base(DeclarativeBase):
    pass


def _column(item: hsds.Field) -> Column:
    kind = {"number": Float, "date": Date}.get(item.type, Text)
    args: list[Any] = [ForeignKey(f"{item.ref}.id")] if item.ref else []
    if item.name == "id":
        return Column("id", String(128), primary_key=True)
    if item.ref:
        kind = String(128)
    return Column(item.name, kind, *args, nullable=not item.required)


# The HSDS core tables, generated from bot/hsds.py's field lists so the two cannot drift apart.
# row_order keeps the package's row order (the order services are listed in replies).
HSDS_TABLES: dict[str, Table] = {
    table.name: Table(table.name, Base.metadata, *(_column(f) for f in table.fields),
                      Column("row_order", Integer, nullable=False, default=0))
    for table in hsds.TABLES
}


class RejectedNumber(Base):
    """Numbers known to be wrong (data/rejected.csv): refused anywhere in the directory."""

    __tablename__ = "rejected_number"
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    why: Mapped[str] = mapped_column(Text)
    row_order: Mapped[int] = mapped_column(default=0)


class Meta(Base):
    __tablename__ = "directory_meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# Snapshot: what the bot answers from.


@dataclass(frozen=True)
class PhoneView:
    number: str
    type: str  # HSDS phone.type: voice, text, textphone (TTY), cell
    keyword: str | None = None


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
class Area:
    key: str  # normalised name: "west hartford", "hartford county", "connecticut"
    level: str  # town | county | state | nation


LOCAL, STATEWIDE, NATIONAL = 0, 1, 2  # ServiceView.tier(): for some towns or a county, the state, the country


@dataclass(frozen=True)
class ServiceView:
    id: str
    label: Mapping[str, str]
    phones: tuple[PhoneView, ...]
    categories: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    hours: tuple[Hours, ...] = ()
    areas: tuple[Area, ...] = ()
    points: tuple[tuple[float, float], ...] = ()  # where it is: its locations, else its towns' middles
    name: str = ""
    assured_date: dt.date | None = None
    position: int = 0

    def covers(self, place: places.Place) -> bool:
        """Whether the service area takes in the place (no area given: anywhere)."""
        if not self.areas:
            return True
        town, county = places.key(place.name), places.key(place.county)
        return any(a.level in ("state", "nation") or (a.level == "town" and a.key == town)
                   or (a.level == "county" and a.key == county) for a in self.areas)

    def tier(self) -> int:
        """LOCAL (0: a town or county), 1 statewide, 2 national."""
        levels = {a.level for a in self.areas} or {"nation"}
        return LOCAL if levels & {"town", "county"} else STATEWIDE if "state" in levels else NATIONAL

    def distance_km(self, place: places.Place) -> float:
        return min((places.distance_km(place, lat, lon) for lat, lon in self.points), default=math.inf)


@dataclass(frozen=True)
class Snapshot:
    """The sendable part of the directory: active, assured services by category."""

    by_category: Mapping[str, tuple[ServiceView, ...]]
    source: str  # "database", "data/" or "built-in"

    def services_for(self, category: str, near: places.Place | None = None) -> tuple[ServiceView, ...]:
        """The services a reply may list for a category. A local service (one with towns or a
        county for its area) is offered only to someone who named a place inside that area:
        with no place, the statewide and national ones in directory order; with a place, those
        whose area covers it, local ones first and nearest first, national ones last."""
        services = self.by_category.get(category, ())
        if near is None:
            return tuple(s for s in services if s.tier() > LOCAL)
        covering = [s for s in services if s.covers(near)]
        return tuple(sorted(covering, key=lambda s: (s.tier(), s.distance_km(near), s.position)))

    def has_local(self, categories: Sequence[str], near: places.Place | None = None) -> bool:
        """Whether any of these categories has a local service (covering the place, when given)."""
        return any(s.tier() == LOCAL and (near is None or s.covers(near))
                   for category in categories for s in self.by_category.get(category, ()))

    @property
    def services(self) -> tuple[ServiceView, ...]:
        seen: dict[str, ServiceView] = {}
        for views in self.by_category.values():
            for view in views:
                seen.setdefault(view.id, view)
        return tuple(sorted(seen.values(), key=lambda v: v.position))

    def stale(self, today: dt.date, days: int = STALE_DAYS) -> list[ServiceView]:
        """Sendable services whose last confirmation is older than `days`."""
        return [s for s in self.services if s.assured_date and (today - s.assured_date).days > days]


# The last resort when neither the database nor data/ can be read. tests/test_directory.py
# checks that every entry here is also a verified entry in data/ with the same numbers.
BUILT_IN = Snapshot(
    {
        "emergency": (ServiceView("9cfeec4f-eada-5678-be3e-fdd722f115fc", {"en": "Emergency", "es": "Emergencias"},
                                  (PhoneView("911", "voice"),), ("emergency",), hours=ALWAYS),),
        "danger": (ServiceView("4ea634fd-2a1b-564b-acd7-3cea624edeee",
                               {"en": "National hotline", "es": "Ayuda nacional"},
                               (PhoneView("1-888-373-7888", "voice"), PhoneView("233733", "text", "HELP")),
                               ("danger",), ("free", "confidential", "spanish", "text_line"), ALWAYS),),
        "hotline.crisis": (ServiceView("74650a7d-7036-575f-a23a-996f63984e1b", {"en": "Crisis line",
                                                                                "es": "Apoyo en crisis"},
                                       (PhoneView("988", "voice"), PhoneView("988", "text")),
                                       ("hotline.crisis",), ("free", "confidential", "spanish", "text_line"),
                                       ALWAYS),),
    },
    "built-in",
)


# Open now.


@dataclass(frozen=True)
class OpenStatus:
    kind: str  # "24/7" | "open" | "opens"
    at: dt.datetime | None = None  # line-local wall time: when it closes ("open") or next opens ("opens")


def local_time(now: dt.datetime | float | None = None) -> dt.datetime:
    """A moment as the line's wall-clock time (naive datetimes are taken as already local)."""
    if now is None:
        return dt.datetime.now(TIME_ZONE).replace(tzinfo=None)
    if isinstance(now, int | float):
        return dt.datetime.fromtimestamp(now, TIME_ZONE).replace(tzinfo=None)
    return now.astimezone(TIME_ZONE).replace(tzinfo=None) if now.tzinfo else now


def open_status(hours: Sequence[Hours], now: dt.datetime | float | None) -> OpenStatus | None:
    """24/7, open now (until when), or when it next opens within a week; None when unknown."""
    if not hours:
        return None
    local = local_time(now)
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


# From HSDS tables to what the line knows of each service.


NUMBER_IN_TEXT = re.compile(r"\d(?:[ ().-]*\d){4,}")  # five digits or more, however written: a phone number
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ServiceFacts:
    row: dict[str, Any]
    position: int
    categories: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    record: dict[str, str] = field(default_factory=dict)  # source, note, label_es
    phones: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    areas: list[dict[str, Any]] = field(default_factory=list)
    locations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label_en(self) -> str:
        return self.row.get("alternate_name") or self.row["name"]

    def label_problem(self) -> str | None:
        """Why a label a texter would see cannot be sent: a number in it (numbers come only from
        checked phone rows), or a first character a spreadsheet runs as a formula."""
        for field_name, label in (("alternate_name", self.row.get("alternate_name")),
                                  ("label_es", self.record.get("label_es"))):
            if not label:
                continue
            if NUMBER_IN_TEXT.search(label):
                return f"the label {field_name} '{label}' holds a number; numbers go in phones, where they are checked"
            if label[0] in FORMULA_STARTS:
                return (f"the label {field_name} '{label}' starts with '{label[0]}', "
                        "which a spreadsheet runs as a formula")
        return None

    def why_not_sent(self) -> str | None:
        """None if the service may be sent to a texter; otherwise why not, in plain words."""
        label = self.label_problem()
        if label is not None:
            return label
        if self.row.get("status") != "active":
            return str(self.row.get("status") or "no status")
        if not self.row.get("assured_date"):
            return "never confirmed (no assured_date)"
        if not self.record.get("source"):
            return "no source"
        if not any(p.get("type") in _SENDABLE_PHONES for p in self.phones):
            return "no phone"
        return None


_SENDABLE_PHONES = (None, "voice", "cell", "text", "textphone")


def service_facts(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[ServiceFacts]:
    """Each service with its attributes, phones, schedules, areas and locations, in package order."""
    taxonomy = {t["id"]: t["name"] for t in tables.get("taxonomy", ())}
    terms = {t["id"]: (taxonomy.get(t.get("taxonomy_id")), t.get("code") or t["name"])
             for t in tables.get("taxonomy_term", ())}
    services = {s["id"]: ServiceFacts(dict(s), n) for n, s in enumerate(tables.get("service", ()))}
    at_location = {sal["id"]: sal for sal in tables.get("service_at_location", ())}
    locations = {loc["id"]: loc for loc in tables.get("location", ())}

    def owner(row: Mapping[str, Any]) -> ServiceFacts | None:
        sal = at_location.get(row.get("service_at_location_id") or "")
        return services.get(row.get("service_id") or (sal or {}).get("service_id") or "")

    for attribute in tables.get("attribute", ()):
        facts = services.get(attribute["link_id"]) if attribute.get("link_entity") == "service" else None
        taxonomy_name, code = terms.get(attribute["taxonomy_term_id"], (None, None))
        if facts is None or code is None:
            continue
        if taxonomy_name == CATEGORY_TAXONOMY:
            facts.categories.append(code)
        elif taxonomy_name == FEATURE_TAXONOMY:
            facts.features.append(code)
        elif taxonomy_name == RECORD_TAXONOMY and attribute.get("value"):
            facts.record[code] = attribute["value"]
    for language in tables.get("language", ()):
        facts = services.get(language.get("service_id") or "")
        if facts and (language.get("code") or "").lower() in ("es", "spa") and "spanish" not in facts.features:
            facts.features.append("spanish")
    for table, attr in (("phone", "phones"), ("schedule", "schedules")):
        for row in tables.get(table, ()):
            facts = owner(row)
            if facts is not None:
                getattr(facts, attr).append(row)
    for area in tables.get("service_area", ()):
        if area.get("service_id") in services:
            services[area["service_id"]].areas.append(area)
    for sal in tables.get("service_at_location", ()):
        if sal["service_id"] in services and sal["location_id"] in locations:
            services[sal["service_id"]].locations.append(locations[sal["location_id"]])
    return list(services.values())


def keyword(phone: Mapping[str, Any]) -> str | None:
    """The word to text, written in phone.description as "keyword HELP"."""
    match = _KEYWORD.match(phone.get("description") or "")
    return match.group(1).upper() if match else None


_NATION = {"united states", "usa", "us", "national", "nationwide", "united states of america"}
_STATE = {"connecticut", "ct", "statewide", "state of connecticut"}


def area_of(name: str) -> Area:
    key = places.key(name)
    if key in _NATION:
        return Area(key, "nation")
    if key in _STATE:
        return Area(key, "state")
    if key.endswith(" county"):
        return Area(key, "county")
    town = town_tables().by_name(name)
    return Area(places.key(town.name) if town else key, "town")


def view_of(facts: ServiceFacts) -> ServiceView:
    """What a reply needs of a sendable service."""
    phones = tuple(PhoneView(p["number"], p.get("type") or "voice", keyword(p) if p.get("type") == "text" else None)
                   for p in facts.phones if p.get("type") in _SENDABLE_PHONES)
    areas = tuple(area_of(a["name"]) for a in facts.areas if a.get("name"))
    points = tuple((float(loc["latitude"]), float(loc["longitude"])) for loc in facts.locations
                   if loc.get("latitude") is not None and loc.get("longitude") is not None)
    if not points:  # no location: the middle of each town it serves
        towns = [town_tables().by_name(a.key) for a in areas if a.level == "town"]
        points = tuple((t.lat, t.lon) for t in towns if t is not None)
    hours = tuple(h for h in (read_hours(s) for s in facts.schedules) if h is not None)
    label = {"en": facts.label_en, "es": facts.record.get("label_es") or facts.label_en}
    return ServiceView(facts.row["id"], label, phones, tuple(dict.fromkeys(facts.categories)),
                       tuple(f for f in FEATURES if f in facts.features), hours, areas, points,
                       facts.row["name"], facts.row.get("assured_date"), facts.position)


def snapshot_of(tables: Mapping[str, Sequence[Mapping[str, Any]]], source: str) -> Snapshot:
    """The sendable services by category, in package order."""
    by_category: dict[str, list[ServiceView]] = {}
    for facts in service_facts(tables):
        if facts.why_not_sent() is None:
            view = view_of(facts)
            for category in view.categories:
                by_category.setdefault(category, []).append(view)
    return Snapshot({k: tuple(v) for k, v in by_category.items()}, source)


# The line's own rules on top of HSDS.


def _digits(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def apply_line_rules(package: hsds.Package, rejected: Sequence[hsds.Rejected], *, strict: bool) -> None:
    """Refuse rejected numbers anywhere; for data/ (strict), also what a sendable service needs.

    Strict: the first problem is a FlowError naming the file and line. Otherwise a phone with a
    rejected number is dropped with a warning.
    """
    refused = {_digits(r.number): r for r in rejected}
    problems = hsds.Problems(package, strict)
    kept = []
    for record in package.tables["phone"]:
        match = refused.get(_digits(record.values["number"]))
        if match is None:
            kept.append(record)
            continue
        where = f"{Path(match.path).name}:{match.line}" if match.path else "the rejected numbers"
        problems.warn(record, f"phone {record.values['number']} is a rejected number ({where}): {match.why}"
                      + ("" if strict else "; the phone was skipped"))
    package.tables["phone"] = kept
    if strict:
        _strict_rules(package)


def _strict_rules(package: hsds.Package) -> None:
    def fail(record: hsds.Record, problem: str) -> None:
        raise FlowError(record.path, problem, line=record.line)

    for records in package.tables.values():
        for record in records:
            if not hsds.is_uuid(record.id):
                fail(record, f"{record.table} id '{record.id}' is not a UUID; make one with "
                             "python3 -c 'import uuid; print(uuid.uuid4())'")
    for record in package.tables["phone"]:
        if record.values.get("type") not in hsds.PHONE_TYPES:
            fail(record, f"phone type '{record.values.get('type')}'; use one of {', '.join(hsds.PHONE_TYPES)}")
    taxonomy = {r.id: r.values["name"] for r in package.tables["taxonomy"]}
    for record in package.tables["taxonomy_term"]:
        name, code = taxonomy.get(record.values.get("taxonomy_id")), record.values.get("code")
        if name == FEATURE_TAXONOMY and code not in FEATURES:
            fail(record, f"feature '{code}' is not one the line can show; use one of {', '.join(FEATURES)}")
        if name == RECORD_TAXONOMY and code not in RECORDS:
            fail(record, f"record term '{code}' is not one the line keeps; use one of {', '.join(RECORDS)}")
    records = {r.id: r for r in package.tables["service"]}
    schedule_records = {id(r.values): r for r in package.tables["schedule"]}
    for facts in service_facts({name: package.rows(name) for name in package.tables}):
        record = records[facts.row["id"]]
        what = f"service '{facts.row['name']}'"
        if facts.row["status"] != "active":
            continue
        if not facts.row.get("assured_date"):
            fail(record, f"{what} is active but has no assured_date: only services a person has confirmed "
                         "are active (make it inactive, with a note, until someone does)")
        if not facts.record.get("source"):
            fail(record, f"{what} is active and assured but names no source (a helpline-record 'source' attribute)")
        if not facts.row.get("alternate_name") or not facts.record.get("label_es"):
            fail(record, f"{what} needs a short neutral label in English (alternate_name) and Spanish "
                         "(a helpline-record 'label_es' attribute)")
        problem = facts.label_problem()
        if problem:
            fail(record, f"{what}: {problem}")
        if not facts.phones:
            fail(record, f"{what} is active and assured but has no phone")
        if not facts.areas:
            fail(record, f"{what} has no service area (a town, 'Connecticut' or 'United States')")
        for schedule in facts.schedules:
            if read_hours(schedule) is None:
                fail(schedule_records[id(schedule)], f"the schedule of {what} is not a weekly rule the line "
                     "reads: give freq WEEKLY, byday (MO,TU,...), opens_at and closes_at")
        if ("24_7" in facts.features) != always_open(h for h in map(read_hours, facts.schedules) if h):
            fail(record, f"{what}: the 24_7 feature and a schedule open every day 00:00-23:59 go together")
        if "text_line" in facts.features and not any(p.get("type") == "text" for p in facts.phones):
            fail(record, f"{what} has the text_line feature but no phone of type text")


# The database.


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_HEAD = "0001"  # the newest revision in bot/migrations/versions (tests/test_migrations.py checks)
MIGRATE_URL = "HELPLINE_MIGRATE_URL"
MIGRATION_WAIT = 20.0  # seconds a worker waits for another worker's schema upgrade
LOAD_ATTEMPTS = 5


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for a new database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the database's schema to the newest Alembic revision (creating it when new).

    The upgrade runs in a short-lived child process, so a worker never carries Alembic (about
    11 MB); several workers starting on a new database at once are fine: one creates the
    schema, the others find it done.
    """
    revision = schema_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    if revision is None and _create_new(engine):
        return
    url = engine.url.render_as_string(hide_password=False)
    if url.endswith(":memory:") or url in ("sqlite://", "sqlite+pysqlite://"):
        upgrade_schema(engine)  # a private in-memory database: only this process can see it
        return
    env = {**os.environ, MIGRATE_URL: url}  # the URL may hold a password: never on a command line
    child = subprocess.run([sys.executable, "-m", "bot.directory"], env=env, capture_output=True,  # noqa: S603
                           text=True, timeout=300, check=False)
    deadline = time.monotonic() + (0 if child.returncode == 0 else MIGRATION_WAIT)
    while schema_revision(engine) != SCHEMA_HEAD:  # failed: perhaps another worker is migrating right now
        if time.monotonic() >= deadline:
            last = (child.stderr.strip().splitlines() or ["no output"])[-1]
            raise SQLAlchemyError(f"the schema could not be brought to revision {SCHEMA_HEAD}: {last}")
        time.sleep(0.2)


def _create_new(engine: Engine) -> bool:
    """On an empty database, create the newest schema directly and mark it as the newest
    revision (what Alembic itself advises for new databases): no Alembic, no child process.
    False if the database is not empty (it needs real migrations)."""
    import bot.stats  # noqa: F401 - the daily counts belong to the same schema

    with engine.connect() as connection:
        if inspect(connection).get_table_names():
            return False
    version = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))
    try:
        with engine.begin() as connection:
            Base.metadata.create_all(connection)
            version.create(connection)
            connection.execute(insert(version).values(version_num=SCHEMA_HEAD))
    except SQLAlchemyError:  # another worker is creating it at this moment: wait for it
        deadline = time.monotonic() + MIGRATION_WAIT
        while schema_revision(engine) != SCHEMA_HEAD:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    return True


def upgrade_schema(engine: Engine) -> None:
    """Run the Alembic migrations up to the newest revision, in this process."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _replace(session: Session, package: hsds.Package, rejected: Sequence[hsds.Rejected]) -> None:
    for table in reversed(hsds.TABLES):
        session.execute(delete(HSDS_TABLES[table.name]))
    session.execute(delete(RejectedNumber))
    for table in hsds.TABLES:
        rows = [{**r.values, "row_order": n} for n, r in enumerate(package.tables[table.name])]
        if rows:
            session.execute(insert(HSDS_TABLES[table.name]), rows)
    session.add_all(RejectedNumber(number=r.number, why=r.why, row_order=n) for n, r in enumerate(rejected))


def _set_meta(session: Session, **values: str) -> None:
    for key, value in values.items():
        session.merge(Meta(key=key, value=value))


def read_data(data_dir: Path | str) -> hsds.Package:
    """Read and check data/: an HSDS package held to the line's rules (FlowError on the first problem)."""
    package = hsds.read_package(data_dir, strict=True)
    apply_line_rules(package, package.rejected, strict=True)
    return package


def load_database(engine: Engine, data_dir: Path | str, *, force: bool = False) -> bool:
    """Create the tables and (re)load data/ when the database is new or data/ changed.

    Workers starting together may race to load a new database: the loser's transaction fails
    (a duplicate row, or SQLite's lock) and it looks again, finding the data loaded.
    """
    migrate(engine)
    fingerprint = hsds.fingerprint(data_dir)
    for attempt in range(LOAD_ATTEMPTS):
        try:
            with Session(engine) as session, session.begin():
                current = session.get(Meta, "data_fingerprint")
                if current is not None and current.value == fingerprint and not force:
                    return False
                package = read_data(data_dir)
                _replace(session, package, package.rejected)
                _set_meta(session, data_fingerprint=fingerprint, revision=fingerprint)
            return True
        except (IntegrityError, OperationalError):
            if attempt == LOAD_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
            force = False  # whoever won loaded the same data/
    return False


@dataclass(frozen=True)
class ImportResult:
    snapshot: Snapshot
    empty_categories: tuple[str, ...]

    @property
    def sendable(self) -> int:
        return len(self.snapshot.services)


def import_package(engine: Engine, package: hsds.Package, data_dir: Path | str,
                   flows_dir: Path | str | None = None, *, force: bool = False) -> ImportResult:
    """Replace the database's directory with an imported package (data/'s rejected numbers still apply).

    Refused (ImportRefused, the database untouched) when a category the flows name would have
    no sendable service, unless `force`.

    It stays until data/ changes or `helpline load` runs; warnings go to package.warnings.
    """
    import hashlib
    import json

    rejected = list(hsds.read_rejected(Path(data_dir) / hsds.REJECTED_FILE))
    known = {_digits(r.number) for r in rejected}
    rejected += [r for r in package.rejected if _digits(r.number) not in known]
    apply_line_rules(package, rejected, strict=False)
    snapshot = snapshot_of({n: package.rows(n) for n in package.tables}, "database")
    empty = _empty_categories(snapshot, flows_dir)
    if empty and not force:  # a running line would answer "Danger now" with no number under it
        raise ImportRefused(f"texters would get no numbers for {len(empty)} categories the flows name "
                            f"({', '.join(empty)}); nothing was changed. To import it all the same: --force")
    content = json.dumps({n: package.rows(n) for n in package.tables}, default=str, sort_keys=True)
    revision = "import:" + hashlib.sha256(content.encode()).hexdigest()
    migrate(engine)
    with Session(engine) as session, session.begin():
        _replace(session, package, rejected)
        _set_meta(session, data_fingerprint=hsds.fingerprint(data_dir), revision=revision)
    return ImportResult(snapshot, empty)


def _empty_categories(snapshot: Snapshot, flows_dir: Path | str | None) -> tuple[str, ...]:
    from bot import ROOT
    from bot.tables import load_flows

    try:
        flows = load_flows(flows_dir or ROOT / "flows")
    except FlowError:
        return ()
    named = dict.fromkeys(c for node in flows.nodes.values() for c in node.resources)
    return tuple(c for c in named if not snapshot.services_for(c))


def read_tables(engine: Engine, data_dir: Path | str | None = None) -> tuple[dict[str, list[dict]], list]:
    """The whole directory from the database, in package order (data/ is loaded first into a new one)."""
    if data_dir is not None:
        with engine.connect() as connection:
            fresh = not inspect(connection).has_table("directory_meta")
        if fresh:
            load_database(engine, data_dir)
    with Session(engine) as session:
        tables = {}
        for table in hsds.TABLES:
            model = HSDS_TABLES[table.name]
            rows = session.execute(select(model).order_by(model.c.row_order, model.c.id)).mappings()
            tables[table.name] = [{k: v for k, v in row.items() if k != "row_order"} for row in rows]
        rejected = [hsds.Rejected(r.number, r.why)
                    for r in session.scalars(select(RejectedNumber).order_by(RejectedNumber.row_order))]
    return tables, rejected


def read_snapshot(engine: Engine) -> Snapshot:
    """Read the whole directory from the database into memory."""
    tables, _ = read_tables(engine)
    return snapshot_of(tables, "database")


def snapshot_from_data(data_dir: Path | str) -> Snapshot:
    """The snapshot data/ would give, without a database (validation, and the fallback)."""
    package = read_data(data_dir)
    return snapshot_of({name: package.rows(name) for name in package.tables}, "data/")


def age_report(tables: Mapping[str, Sequence[Mapping[str, Any]]], today: dt.date,
               days: int = STALE_DAYS) -> list[str]:
    """`helpline directory check`: services by how long ago a person confirmed them."""
    facts = service_facts(tables)
    dated = sorted((f for f in facts if f.row.get("assured_date")), key=lambda f: (f.row["assured_date"], f.position))
    lines = [f"Services by the day a person last confirmed them (today is {today}; "
             f"a check older than {days} days is flagged):", ""]
    stale = 0
    for f in dated:
        age = (today - f.row["assured_date"]).days
        reason = f.why_not_sent()
        flag = ""
        if reason is None and age > days:
            stale += 1
            flag = f"  <- OLDER THAN {days} DAYS: confirm it again, then update assured_date"
        elif age < 0:
            flag = "  <- assured_date is in the future: check the date"
        state = "sent" if reason is None else f"not sent: {reason}"
        lines.append(f"  {f.row['assured_date']}  {age:>4} days  {f.label_en} ({f.row['name']}) [{state}]{flag}")
    never = [f for f in facts if not f.row.get("assured_date")]
    if never:
        lines += ["", "Never confirmed (not sent until a person confirms them and records assured_date):"]
        lines += [f"  {f.row['name']} [{f.row.get('status')}]" for f in never]
    sent = sum(1 for f in facts if f.why_not_sent() is None)
    lines += ["", f"{sent} sent to texters; {stale} older than {days} days; {len(never)} never confirmed."]
    return lines


def need_report(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """`helpline directory check`: each need (category) with the services sent for it, local
    ones with the towns they serve, then statewide and national ones."""
    snapshot = snapshot_of(tables, "check")
    names = {t["code"]: t.get("name") or t["code"] for t in tables.get("taxonomy_term", ())
             if t.get("taxonomy") == "helpline-category"}
    lines = ["", "Each need, with the services sent for it (local ones only to someone who names a town they serve):"]
    for code, name in names.items():
        services = snapshot.by_category.get(code, ())
        local = [f"{s.label['en']} ({', '.join(a.key.title() for a in s.areas)})"
                 for s in services if s.tier() == LOCAL]
        wide = [s.label["en"] for s in services if s.tier() == STATEWIDE]
        national = [s.label["en"] for s in services if s.tier() == NATIONAL]
        lines.append(f"  {code} ({name}):")
        lines.append(f"    local: {'; '.join(local) or 'none yet'}")
        lines.append(f"    statewide: {'; '.join(wide) or 'none'}" + ("" if wide or national else
                                                                      "  <- NOTHING TO SEND WITHOUT A TOWN"))
        if national:
            lines.append(f"    national: {'; '.join(national)}")
    return lines


def database_url(url: str) -> str:
    """Map a plain postgresql:// URL to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


CONNECT_SECONDS = 2  # libpq's shortest connect_timeout
STATEMENT_MS = 5000
POOL_SECONDS = 2


def make_engine(url: str) -> Engine:
    """An engine for DATABASE_URL; SQLite gets WAL and a busy timeout for several workers."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15})

        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # pragma: no cover - exercised by every test
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # A server that accepts and never answers must not hold anyone: libpq gives up connecting
    # after CONNECT_SECONDS, the server ends a statement after STATEMENT_MS, and a pool with every
    # connection busy says so after POOL_SECONDS.
    return create_engine(url, pool_pre_ping=True, pool_timeout=POOL_SECONDS, connect_args={
        "connect_timeout": CONNECT_SECONDS,
        "options": f"-c statement_timeout={STATEMENT_MS} -c lock_timeout={STATEMENT_MS}"})


def warn_if_stale(snapshot: Snapshot, today: dt.date | None = None) -> list[ServiceView]:
    """Log (at start) the sendable services nobody has confirmed for STALE_DAYS."""
    today = today or dt.date.today()
    stale = snapshot.stale(today)
    if stale:  # ages, not dates: the log's redaction takes a date for a phone number
        log.warning("directory: %d service(s) last confirmed more than %d days ago: %s. "
                    "Run `helpline directory check` and confirm them.", len(stale), STALE_DAYS,
                    "; ".join(f"{s.name} ({(today - s.assured_date).days} days)" for s in stale))
    return stale


class DirectoryCache:
    """The snapshot a worker answers from, reloaded when the database says data changed."""

    def __init__(self, engine: Engine | None, url: str, data_dir: Path | str, snapshot: Snapshot,
                 problem: str | None, refresh_seconds: float):
        self.engine, self.url, self.data_dir = engine, url, Path(data_dir)
        self.snapshot, self.problem = snapshot, problem
        self.refresh_seconds = refresh_seconds
        self._checked_at = 0.0
        self._revision = self._stored_revision() if engine is not None else None

    @classmethod
    def open(cls, url: str, data_dir: Path | str, refresh_seconds: float = 60) -> DirectoryCache:
        """Load at start; if the database fails, answer from data/ (then the built-in numbers)."""
        try:
            engine = make_engine(url)
            try:
                load_database(engine, data_dir)
                problem = None
            except FlowError as err:  # a broken edit of data/: keep answering with the last good directory
                if schema_revision(engine) != SCHEMA_HEAD or not read_snapshot(engine).services:
                    raise
                problem = f"data/ not loaded: {err}"
                log.error("directory: %s; answering with the directory last loaded", err)
            cache = cls(engine, url, data_dir, read_snapshot(engine), problem, refresh_seconds)
            warn_if_stale(cache.snapshot)
            return cache
        except SQLAlchemyError as err:
            problem = f"database unavailable ({type(err).__name__})"
            log.error("directory: %s; answering from data/ in memory", problem)
        try:
            cache = cls(None, url, data_dir, snapshot_from_data(data_dir), problem, refresh_seconds)
            warn_if_stale(cache.snapshot)
            return cache
        except FlowError as err:
            log.error("directory: %s; answering with the built-in emergency numbers", err)
            return cls(None, url, data_dir, BUILT_IN, f"{problem}; {err}", refresh_seconds)

    def _stored_revision(self) -> str | None:
        with Session(self.engine) as session:
            meta = session.get(Meta, "revision")
            return meta.value if meta is not None else None

    def refresh_if_due(self, now: float, on_change: Callable[[], None]) -> None:
        """At most once per interval, reload the snapshot if the database holds new data."""
        if now - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = now
        try:
            if self.engine is None:
                self.engine = make_engine(self.url)
                load_database(self.engine, self.data_dir)
            revision = self._stored_revision()
            if revision != self._revision or self.problem:
                self.snapshot, self._revision, self.problem = read_snapshot(self.engine), revision, None
                on_change()
        except SQLAlchemyError as err:
            self.problem = f"database unavailable ({type(err).__name__})"
            log.warning("directory: %s; keeping the last loaded directory", self.problem)


if __name__ == "__main__":  # the child process of migrate(): upgrade the database named in the environment
    import bot.stats  # noqa: F401 - its table is part of the schema

    upgrade_schema(make_engine(os.environ[MIGRATE_URL]))
