"""Fixtures: an app on a temporary SQLite database, a test client, a texter."""

from __future__ import annotations

import pytest

from bot import create_app
from bot.chat import Conversation

TOKEN = "test-auth-token"
SECRET = "test-secret-key-not-for-production"


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
