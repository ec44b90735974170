"""The resource directory: SQLAlchemy models, loading data/, and the in-memory snapshot.

The database is read at start (and when data/ changes); texts are answered from the
snapshot, never with a query per text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Date, ForeignKey, String, Text, create_engine, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from bot.flows import FlowError, line_of, read_yaml

log = logging.getLogger(__name__)

STATUSES = ("active", "inactive", "defunct", "temporarily closed")
PHONE_TYPES = ("voice", "text", "tty")
ATTRIBUTES = ("free", "confidential", "spanish", "text_line", "walk_in", "no_id")
DIRECTORY_FILE = "directory.yaml"


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organization"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(300))
    services: Mapped[list[Service]] = relationship(back_populates="organization", cascade="all, delete-orphan")


class Service(Base):
    __tablename__ = "service"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(100))
    label_es: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    assured_date: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)
    hours: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[str] = mapped_column(String(200), default="")
    categories: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    organization: Mapped[Organization] = relationship(back_populates="services")
    phones: Mapped[list[Phone]] = relationship(
        back_populates="service", cascade="all, delete-orphan", order_by="Phone.position"
    )


class Phone(Base):
    __tablename__ = "phone"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("service.id"))
    number: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(10))
    keyword: Mapped[str | None] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(default=0)
    service: Mapped[Service] = relationship(back_populates="phones")


class RejectedNumber(Base):
    __tablename__ = "rejected_number"
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    why: Mapped[str] = mapped_column(Text)


class Meta(Base):
    __tablename__ = "directory_meta"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# Snapshot: what the bot answers from.


@dataclass(frozen=True)
class PhoneView:
    number: str
    type: str
    keyword: str | None = None


@dataclass(frozen=True)
class ServiceView:
    id: str
    label: Mapping[str, str]
    phones: tuple[PhoneView, ...]
    hours: str | None
    categories: tuple[str, ...]
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The sendable part of the directory: active, assured services by category."""

    by_category: Mapping[str, tuple[ServiceView, ...]]
    source: str  # "database", "data/" or "built-in"

    def services_for(self, category: str) -> tuple[ServiceView, ...]:
        """The services a reply may list for a category, in directory order."""
        return self.by_category.get(category, ())


# The last resort when neither the database nor data/ can be read. tests/test_directory.py
# checks that every entry here is also a verified entry in data/.
BUILT_IN = Snapshot(
    {
        "emergency": (ServiceView("emergency-911", {"en": "Emergency", "es": "Emergencias"},
                                  (PhoneView("911", "voice"),), None, ("emergency",)),),
        "danger": (ServiceView("nhth-hotline", {"en": "National hotline", "es": "Línea nacional"},
                               (PhoneView("1-888-373-7888", "voice"), PhoneView("233733", "text", "HELP")),
                               "24/7", ("danger",)),),
        "hotline.crisis": (ServiceView("lifeline-988", {"en": "Crisis line", "es": "Línea de crisis"},
                                       (PhoneView("988", "voice"), PhoneView("988", "text")),
                                       "24/7", ("hotline.crisis",)),),
    },
    "built-in",
)


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digits(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _require(raw: Mapping, key: str, path: Path, what: str) -> Any:
    value = raw.get(key)
    if value in (None, ""):
        raise FlowError(path, f"{what} has no '{key}'", line=line_of(raw))
    return value


def read_directory(data_dir: Path | str) -> tuple[list[Organization], list[RejectedNumber]]:
    """Read and check data/directory.yaml into (unsaved) model objects."""
    path = Path(data_dir) / DIRECTORY_FILE
    document = read_yaml(path)
    if not isinstance(document, Mapping) or document.get("spec_version") != 1:
        raise FlowError(path, "must be a mapping with spec_version: 1 and organizations", line=1)
    rejected = [
        RejectedNumber(number=str(_require(r, "number", path, "a rejected entry")), why=str(r.get("why", "")))
        for r in document.get("rejected") or []
    ]
    refused = {_digits(r.number): r for r in rejected}
    organizations, seen = [], set()
    for raw_org in document.get("organizations") or []:
        org_id = str(_require(raw_org, "id", path, "an organization"))
        org = Organization(id=org_id, name=str(_require(raw_org, "name", path, org_id)), url=raw_org.get("url"))
        for position, raw in enumerate(raw_org.get("services") or []):
            service_id = str(_require(raw, "id", path, f"a service of {org_id}"))
            what = f"service '{service_id}'"
            if service_id in seen:
                raise FlowError(path, f"{what} is listed twice", line=line_of(raw))
            seen.add(service_id)
            label = _require(raw, "label", path, what)
            if not isinstance(label, Mapping) or not label.get("en") or not label.get("es"):
                raise FlowError(path, f"{what} needs a label in en and es", line=line_of(raw))
            status = raw.get("status", "active")
            if status not in STATUSES:
                raise FlowError(path, f"{what} has status '{status}'; use one of {', '.join(STATUSES)}",
                                line=line_of(raw))
            assured = raw.get("assured_date")
            if assured is not None and not isinstance(assured, dt.date):
                raise FlowError(path, f"{what} has assured_date '{assured}'; write it as YYYY-MM-DD",
                                line=line_of(raw))
            attributes = [str(a) for a in raw.get("attributes") or []]
            unknown = [a for a in attributes if a not in ATTRIBUTES]
            if unknown:
                raise FlowError(path, f"{what} has unknown attribute(s) {', '.join(unknown)}", line=line_of(raw))
            service = Service(
                id=service_id, name=str(raw.get("name") or label["en"]), label_en=str(label["en"]),
                label_es=str(label["es"]), status=status, assured_date=assured, source=raw.get("source"),
                hours=None if raw.get("hours") is None else str(raw["hours"]), attributes=",".join(attributes),
                categories=",".join(str(c) for c in raw.get("categories") or []), address=raw.get("address"),
                note=raw.get("note"), position=position,
            )
            if status == "active" and assured is not None and not service.source:
                raise FlowError(path, f"{what} is active and assured but names no source", line=line_of(raw))
            for index, phone in enumerate(raw.get("phones") or []):
                number = str(_require(phone, "number", path, f"a phone of {service_id}"))
                if _digits(number) in refused:
                    raise FlowError(path, f"{what} lists {number}, which is a rejected number: "
                                    f"{refused[_digits(number)].why}", line=line_of(phone))
                kind = phone.get("type", "voice")
                if kind not in PHONE_TYPES:
                    raise FlowError(path, f"{what} has a phone of type '{kind}'", line=line_of(phone))
                service.phones.append(Phone(number=number, type=kind, keyword=phone.get("keyword"), position=index))
            org.services.append(service)
        organizations.append(org)
    return organizations, rejected


def sendable(service: Service) -> bool:
    """Only active services that a person has confirmed are ever sent."""
    return service.status == "active" and service.assured_date is not None and bool(service.phones)


def snapshot_of(organizations: Iterable[Organization], source: str) -> Snapshot:
    """The sendable services by category, in file order."""
    by_category: dict[str, list[ServiceView]] = {}
    for org in organizations:
        for service in sorted(org.services, key=lambda s: s.position):
            if not sendable(service):
                continue
            categories = tuple(c for c in service.categories.split(",") if c)
            view = ServiceView(
                service.id, {"en": service.label_en, "es": service.label_es},
                tuple(PhoneView(p.number, p.type, p.keyword) for p in service.phones),
                service.hours, categories, tuple(a for a in service.attributes.split(",") if a),
            )
            for category in categories:
                by_category.setdefault(category, []).append(view)
    return Snapshot({k: tuple(v) for k, v in by_category.items()}, source)


def snapshot_from_data(data_dir: Path | str) -> Snapshot:
    """The snapshot data/ would give, without a database (validation, and the fallback)."""
    organizations, _ = read_directory(data_dir)
    return snapshot_of(organizations, "data/")


def load_database(engine: Engine, data_dir: Path | str, *, force: bool = False) -> bool:
    """Create the tables and (re)load data/ when the database is new or data/ changed."""
    Base.metadata.create_all(engine)
    path = Path(data_dir) / DIRECTORY_FILE
    fingerprint = _fingerprint(path)
    with Session(engine) as session, session.begin():
        current = session.get(Meta, "data_fingerprint")
        if current is not None and current.value == fingerprint and not force:
            return False
        organizations, rejected = read_directory(data_dir)
        for model in (Phone, Service, Organization, RejectedNumber):
            session.execute(delete(model))
        session.add_all(organizations + rejected)
        session.merge(Meta(key="data_fingerprint", value=fingerprint))
    return True


def read_snapshot(engine: Engine) -> Snapshot:
    """Read the whole directory from the database into memory."""
    with Session(engine) as session:
        organizations = session.scalars(select(Organization)).unique().all()
        for org in organizations:  # load relationships before the session closes
            for service in org.services:
                list(service.phones)
        return snapshot_of(organizations, "database")


def database_url(url: str) -> str:
    """Map a plain postgresql:// URL to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


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
    return create_engine(url, pool_pre_ping=True)


class DirectoryCache:
    """The snapshot a worker answers from, reloaded when the database says data changed."""

    def __init__(self, engine: Engine | None, url: str, data_dir: Path | str, snapshot: Snapshot,
                 problem: str | None, refresh_seconds: float):
        self.engine, self.url, self.data_dir = engine, url, Path(data_dir)
        self.snapshot, self.problem = snapshot, problem
        self.refresh_seconds = refresh_seconds
        self._checked_at = 0.0
        self._fingerprint = self._stored_fingerprint() if engine is not None else None

    @classmethod
    def open(cls, url: str, data_dir: Path | str, refresh_seconds: float = 60) -> DirectoryCache:
        """Load at start; if the database fails, answer from data/ (then the built-in numbers)."""
        try:
            engine = make_engine(url)
            load_database(engine, data_dir)
            return cls(engine, url, data_dir, read_snapshot(engine), None, refresh_seconds)
        except SQLAlchemyError as err:
            problem = f"database unavailable ({type(err).__name__})"
            log.error("directory: %s; answering from data/ in memory", problem)
        try:
            return cls(None, url, data_dir, snapshot_from_data(data_dir), problem, refresh_seconds)
        except FlowError as err:
            log.error("directory: %s; answering with the built-in emergency numbers", err)
            return cls(None, url, data_dir, BUILT_IN, f"{problem}; {err}", refresh_seconds)

    def _stored_fingerprint(self) -> str | None:
        with Session(self.engine) as session:
            meta = session.get(Meta, "data_fingerprint")
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
            fingerprint = self._stored_fingerprint()
            if fingerprint != self._fingerprint or self.problem:
                self.snapshot, self._fingerprint, self.problem = read_snapshot(self.engine), fingerprint, None
                on_change()
        except SQLAlchemyError as err:
            self.problem = f"database unavailable ({type(err).__name__})"
            log.warning("directory: %s; keeping the last loaded directory", self.problem)
