"""Fixtures: an app on a temporary SQLite database, a test client, a texter."""

from __future__ import annotations

import os

import pytest

from bot.app import create_app
from bot.cli.chat import Conversation

TOKEN = "test-auth-token"
SECRET = "test-secret-key-not-for-production"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With HELPLINE_REQUIRE_SERVICES set (CI), a test skipped for a missing service fails."""
    outcome = yield
    report = outcome.get_result()
    markers = {"postgres", "redis", "browser"} & {m.name for m in item.iter_markers()}
    if report.skipped and markers and os.environ.get("HELPLINE_REQUIRE_SERVICES"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{'/'.join(sorted(markers))} test skipped where it must run: {reason}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="Rewrite tests/transcripts/*.yaml with what the bot answers now.")


@pytest.fixture
def config(tmp_path) -> dict:
    return {"TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": SECRET, "LOCAL_MODE": False,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'helpline.db'}", "TESTING": True}


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def texter(app) -> Conversation:
    return Conversation.start(app, sender="+18605550123")


POSTGRES_URL = os.environ.get("HELPLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> str:
    """A PostgreSQL database for the test, with no tables of ours; skip if none answers."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from bot.directory.database import database_url

    engine = create_engine(database_url(POSTGRES_URL), connect_args={"connect_timeout": 2})
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except OperationalError:
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    finally:
        engine.dispose()
    return POSTGRES_URL
