"""Schema changes go through Alembic: the migrations build exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import bot.stats  # noqa: F401 - its table is part of the schema
from bot import ROOT
from bot.directory.database import (
    SCHEMA_HEAD,
    load_database,
    make_engine,
    migrate,
    schema_revision,
    snapshot_from_data,
    upgrade_schema,
)
from bot.directory.models import Base


def differences(engine) -> list:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def check_schema(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade_schema(engine)  # the migrations themselves, as an existing database would run them
        assert differences(engine) == [], "the models changed without a migration: run alembic revision"
        assert schema_revision(engine) == SCHEMA_HEAD
        tables = set(inspect(engine).get_table_names())
        assert inspect(engine).get_pk_constraint("daily_count")["constrained_columns"] == list(KEY)  # not compared
        assert {"organization", "service", "phone", "schedule", "daily_count", "alembic_version"} <= tables
        migrate(engine)  # running it again changes nothing
        assert load_database(engine, ROOT / "data")
        assert not load_database(engine, ROOT / "data"), "unchanged data/ is not loaded twice"
    finally:
        engine.dispose()


def test_migrations_build_the_models_on_sqlite(tmp_path):
    check_schema(f"sqlite:///{tmp_path / 'helpline.db'}")


@pytest.mark.postgres
def test_migrations_build_the_models_on_postgresql(postgres_url):
    check_schema(postgres_url)


@pytest.mark.postgres
def test_the_line_runs_on_postgresql_given_a_plain_url(config, postgres_url):
    from bot.app import create_app
    from bot.cli.chat import Conversation

    assert postgres_url.startswith("postgresql://")
    app = create_app({**config, "DATABASE_URL": postgres_url, "STATS_FLUSH_SECONDS": 0})
    line = app.extensions["helpline"]
    assert line.directory.snapshot.source == "database" and line.directory.engine.dialect.name == "postgresql"
    shipped = snapshot_from_data(ROOT / "data").services
    assert {s.id for s in line.directory.snapshot.services} == {s.id for s in shipped}
    texter = Conversation.start(app)
    assert "1-888-373-7888" in "\n".join(texter.send("hotline"))
    line.tally.flush()
    import datetime as dt

    from bot.stats import rows

    assert sum(r["count"] for r in rows(line.directory.engine, 2, dt.date.today())) >= 1
    assert app.test_client().get("/healthz").status_code == 200
    line.directory.engine.dispose()


DAY = dt.date(2026, 11, 30)
OLD_COUNTS = [("motel-card-7", "hotlines", "en", "sms", 40), ("", "welcome", "es", "whatsapp", 3)]
KEY = ("day", "campaign", "topic", "language", "channel", "line")  # the primary key (compare_metadata does not look)


def to_revision(engine, revision: str, down: bool = False) -> None:
    """Run the migrations up (or down) to a revision, as Alembic does."""
    from alembic import command
    from alembic.config import Config

    from bot.directory.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def at_0001_with_counts(url: str, revision: str = "0001"):
    """A database as the line left it before conversations were counted: revision 0001, counts in it
    (or at `revision`, before lines were: its conversations 0)."""
    engine = make_engine(url)
    to_revision(engine, revision)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO daily_count (day, campaign, topic, language, channel, count) "
                                "VALUES (:day, :campaign, :topic, :language, :channel, :count)"),
                           [dict(zip(("campaign", "topic", "language", "channel", "count"), row, strict=True), day=DAY)
                            for row in OLD_COUNTS])
    assert schema_revision(engine) == revision
    return engine


def check_the_upgrade_keeps_the_counts(url: str) -> None:
    from collections import Counter

    from bot.stats import TextAnswered, add_counts, rows

    engine = at_0001_with_counts(url)
    try:
        migrate(engine)  # as the line does at start: Alembic in a child process
        assert schema_revision(engine) == SCHEMA_HEAD and differences(engine) == []
        kept = {(r["campaign"], r["topic"], r["language"], r["channel"], r["line"]): (r["count"], r["conversations"])
                for r in rows(engine, 1, DAY)}
        assert kept == {(*row[:4], ""): (row[4], 0) for row in OLD_COUNTS}  # every count kept; no conversation then
        add_counts(engine, Counter({TextAnswered(DAY, "motel-card-7", "hotlines", "en", "sms", starts=True): 2,
                                    TextAnswered(DAY, "motel-card-7", "hotlines", "en", "sms"): 1}))
        after = {r["campaign"]: (r["count"], r["conversations"]) for r in rows(engine, 1, DAY)}
        assert after == {"motel-card-7": (43, 2), "": (3, 0)}  # counted on top of the old row
    finally:
        engine.dispose()


def test_a_database_at_0001_with_counts_upgrades_and_keeps_them_on_sqlite(tmp_path):
    check_the_upgrade_keeps_the_counts(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_a_database_at_0001_with_counts_upgrades_and_keeps_them_on_postgresql(postgres_url):
    check_the_upgrade_keeps_the_counts(postgres_url)


def check_lines_come_with_the_counts_kept(url: str) -> None:
    """From 0002 (conversations, no line) to 0003: the old counts kept under line "", the line in the
    primary key, each number its own row; and back down to 0002, each day's lines added together."""
    from collections import Counter

    from bot.stats import TextAnswered, add_counts, rows

    engine = at_0001_with_counts(url, "0002")
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE daily_count SET conversations = 12 WHERE campaign = 'motel-card-7'"))
        migrate(engine)  # as the line does at start
        assert schema_revision(engine) == SCHEMA_HEAD and differences(engine) == []
        assert inspect(engine).get_pk_constraint("daily_count")["constrained_columns"] == list(KEY)
        kept = {(r["campaign"], r["line"]): (r["count"], r["conversations"]) for r in rows(engine, 1, DAY)}
        assert kept == {("motel-card-7", ""): (40, 12), ("", ""): (3, 0)}
        card = ("motel-card-7", "hotlines", "en", "sms")
        add_counts(engine, Counter({TextAnswered(DAY, *card, line="+18605550100"): 5,
                                    TextAnswered(DAY, *card, starts=True, line="+18605550200"): 2,
                                    TextAnswered(DAY, *card): 1}))
        kept = {(r["campaign"], r["line"]): (r["count"], r["conversations"]) for r in rows(engine, 1, DAY)}
        assert kept == {("motel-card-7", ""): (41, 12), ("motel-card-7", "+18605550100"): (5, 0),
                        ("motel-card-7", "+18605550200"): (2, 2), ("", ""): (3, 0)}
        to_revision(engine, "0002", down=True)
        with engine.connect() as connection:
            back = connection.execute(text("SELECT campaign, count, conversations FROM daily_count")).all()
        assert sorted(map(tuple, back)) == [("", 3, 0), ("motel-card-7", 48, 14)]  # nothing lost going back
        assert inspect(engine).get_pk_constraint("daily_count")["constrained_columns"] == list(KEY[:-1])
    finally:
        engine.dispose()


def test_a_database_at_0002_with_counts_gets_lines_and_keeps_them_on_sqlite(tmp_path):
    check_lines_come_with_the_counts_kept(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_a_database_at_0002_with_counts_gets_lines_and_keeps_them_on_postgresql(postgres_url):
    check_lines_come_with_the_counts_kept(postgres_url)


def test_the_schema_head_constant_is_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.directory.database import MIGRATIONS, SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD == "0003"


def test_a_new_database_gets_the_newest_schema_the_same_as_the_migrations_build(tmp_path):
    fresh, migrated = make_engine(f"sqlite:///{tmp_path / 'new.db'}"), make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(fresh)  # empty: created directly and stamped
    upgrade_schema(migrated)
    assert schema_revision(fresh) == schema_revision(migrated) == SCHEMA_HEAD
    assert differences(fresh) == [] and differences(migrated) == []
    assert set(inspect(fresh).get_table_names()) == set(inspect(migrated).get_table_names())
