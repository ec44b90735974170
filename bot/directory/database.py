"""The database: schema (Alembic, in a child process), loading data/ or an HSDS package into it,
and reading the tables and the snapshot back."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot import ROOT
from bot.directory import hsds
from bot.directory.facts import snapshot_of
from bot.directory.models import HSDS_TABLES, Base, Meta, RejectedNumber
from bot.directory.rules import apply_line_rules, digits
from bot.directory.snapshot import Snapshot
from bot.errors import FlowError, ImportRefused

log = logging.getLogger(__name__)
DIRECTORY_FILE = hsds.PACKAGE_FILE  # what `helpline load` names as loaded
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_HEAD = "0003"  # the newest revision in bot/migrations/versions (tests/test_migrations.py checks)
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
    child = subprocess.run([sys.executable, "-m", "bot.directory.database"], env=env, capture_output=True,  # noqa: S603
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
    known = {digits(r.number) for r in rejected}
    rejected += [r for r in package.rejected if digits(r.number) not in known]
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


def default_database_url() -> str:
    """SQLite in the instance folder: the embedded default."""
    instance = ROOT / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'helpline.db'}"


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


if __name__ == "__main__":  # the child process of migrate(): upgrade the database named in the environment

    upgrade_schema(make_engine(os.environ[MIGRATE_URL]))
