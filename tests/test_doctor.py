"""`helpline doctor`: each setting that would stop or break the line is named with its fix, the exit
code says whether anything must be fixed, a secret's value never appears, and a database or Redis
that does not answer is reported within seconds."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.cli import main

TOKEN = "tok-0123456789abcdef0123456789ab"  # 32 characters, never to be printed
SECRET = "sk-" + "Zq9" * 15  # 48 characters, never to be printed
QUICK = 6.0  # seconds: an unreachable service must be reported within this


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: none of the line's variables, SQLite in tmp_path."""
    for name in list(os.environ):
        if name.startswith("HELPLINE_") or name in ("TWILIO_AUTH_TOKEN", "SECRET_KEY", "DATABASE_URL",
                                                     "RATELIMIT_STORAGE_URI", "TWILIO_ACCOUNT_SID"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'helpline.db'}")
    return monkeypatch


@pytest.fixture
def production(env):
    """A good production setting: token, a long secret, the public URL."""
    env.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    env.setenv("SECRET_KEY", SECRET)
    env.setenv("HELPLINE_PUBLIC_URL", "https://line.example.org")
    return env


def doctor() -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output, time.monotonic() - started


def lines(output: str, status: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{status} ")]


def line_about(output: str, status: str, words: str) -> str:
    found = [line for line in lines(output, status) if words in line]
    assert found, f"no {status} line about {words!r} in:\n{output}"
    return found[0]


def test_a_good_local_setup_passes_with_a_warning_about_the_internet(env):
    env.setenv("HELPLINE_LOCAL", "1")
    code, output, _ = doctor()
    assert code == 0, output
    assert not lines(output, "FIX") and output.strip().endswith("nothing to fix.")
    assert "never face the internet" in line_about(output, "WARN", "HELPLINE_LOCAL")
    for what in ("TWILIO_AUTH_TOKEN not set (not needed in local mode)", "SECRET_KEY not set", "HELPLINE_TIMEZONE",
                 "flows in", "data in", "database sqlite:///", "RATELIMIT_STORAGE_URI memory://"):
        line_about(output, "ok", what)


def test_a_good_production_setup_passes_and_shows_no_secret(production):
    code, output, _ = doctor()
    assert code == 0, output
    assert "TWILIO_AUTH_TOKEN set (32 characters)" in output and f"SECRET_KEY set ({len(SECRET)} characters)" in output
    assert TOKEN not in output and SECRET not in output
    assert not lines(output, "WARN") and not lines(output, "FIX")


def test_an_existing_database_is_opened_and_its_schema_reported(production, tmp_path):
    from bot.directory.database import make_engine, migrate

    engine = make_engine(os.environ["DATABASE_URL"])
    migrate(engine)
    engine.dispose()
    code, output, _ = doctor()
    assert code == 0 and "schema up to date" in line_about(output, "ok", "the database")


def test_missing_token_and_secret_are_named_with_their_fix(env):
    env.setenv("HELPLINE_TRUST_PROXY", "1")
    code, output, _ = doctor()
    assert code == 1 and output.strip().endswith("2 to fix.")
    assert "Twilio console" in line_about(output, "FIX", "TWILIO_AUTH_TOKEN not set")
    assert "secrets.token_urlsafe(32)" in line_about(output, "FIX", "SECRET_KEY not set")


def test_a_short_secret_key_is_named_by_its_length_never_its_value(production):
    production.setenv("SECRET_KEY", "tooShort-9x")
    code, output, _ = doctor()
    assert code == 1
    assert "at least 32" in line_about(output, "FIX", "SECRET_KEY set but only 11 characters")
    assert "tooShort-9x" not in output


def test_without_public_url_or_proxy_it_says_twilio_gets_403_and_how_to_fix_it(production):
    production.delenv("HELPLINE_PUBLIC_URL")
    code, output, _ = doctor()
    assert code == 1
    fix = line_about(output, "FIX", "neither HELPLINE_PUBLIC_URL nor HELPLINE_TRUST_PROXY")
    assert "403" in fix and "HELPLINE_PUBLIC_URL=https://" in fix and "HELPLINE_TRUST_PROXY=1" in fix


def test_a_trusted_proxy_is_enough(production):
    production.delenv("HELPLINE_PUBLIC_URL")
    production.setenv("HELPLINE_TRUST_PROXY", "1")
    code, output, _ = doctor()
    assert code == 0 and line_about(output, "ok", "HELPLINE_TRUST_PROXY=1")


@pytest.mark.parametrize(("url", "says"), [
    ("http://line.example.org", "not an https:// URL"),
    ("line.example.org", "not an https:// URL"),
    ("https://line.example.org/sms", "without /sms"),
])
def test_a_public_url_twilio_would_not_call_is_named(production, url, says):
    production.setenv("HELPLINE_PUBLIC_URL", url)
    code, output, _ = doctor()
    assert code == 1 and says in line_about(output, "FIX", "HELPLINE_PUBLIC_URL")


def test_every_number_setting_that_is_not_a_number_is_named_and_the_rest_still_checked(production):
    production.setenv("HELPLINE_TRUST_PROXY", "one")
    production.setenv("HELPLINE_DIRECTORY_REFRESH_SECONDS", "soon")
    code, output, _ = doctor()
    assert code == 1 and output.strip().endswith("2 to fix.")
    assert "not a whole number" in line_about(output, "FIX", "HELPLINE_TRUST_PROXY='one'")
    assert "not a number" in line_about(output, "FIX", "HELPLINE_DIRECTORY_REFRESH_SECONDS='soon'")
    line_about(output, "ok", "flows in")  # the other checks ran
    line_about(output, "ok", "database sqlite:///")


def test_a_time_zone_that_does_not_exist_is_named(production):
    production.setenv("HELPLINE_TIMEZONE", "America/Hartford")
    code, output, _ = doctor()
    assert code == 1 and "tz database" in line_about(output, "FIX", "HELPLINE_TIMEZONE='America/Hartford'")


def test_a_rate_limit_that_is_not_one_is_named(production):
    production.setenv("HELPLINE_RATE_LIMIT", "lots")
    code, output, _ = doctor()
    assert code == 1 and "10 per minute" in line_about(output, "FIX", "HELPLINE_RATE_LIMIT='lots'")


def test_broken_flows_are_named_by_file_and_line(production, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", flows)
    text = (flows / "health.yaml").read_text()
    (flows / "health.yaml").write_text(text.replace("goto: health.testing", "goto: health.nowhere", 1))
    production.setenv("HELPLINE_FLOWS_DIR", str(flows))
    code, output, _ = doctor()
    assert code == 1
    assert re.search(rf"{re.escape(str(flows / 'health.yaml'))}:\d+: .*health.nowhere",
                     line_about(output, "FIX", "flows:"))


def test_broken_data_is_named_by_file_and_line(production, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    path = data / "services.csv"
    path.write_text(path.read_text().replace("2026-11-26", "26/11/2026", 1))
    production.setenv("HELPLINE_DATA_DIR", str(data))
    code, output, _ = doctor()
    assert code == 1
    assert "services.csv:2: service.assured_date '26/11/2026' is not a date" in line_about(output, "FIX", "data:")


def test_a_missing_data_folder_is_named(production, tmp_path):
    production.setenv("HELPLINE_DATA_DIR", str(tmp_path / "nowhere"))
    code, output, _ = doctor()
    assert code == 1 and "does not exist" in line_about(output, "FIX", "data:")


def test_an_unreachable_database_is_reported_quickly_with_its_host_and_no_password(production):
    production.setenv("DATABASE_URL", "postgresql://helpline:Db-Pass-7731@127.0.0.1:1/helpline")
    code, output, seconds = doctor()
    assert code == 1 and seconds < QUICK
    fix = line_about(output, "FIX", "the database at 127.0.0.1:1")
    assert "cannot be reached" in fix and "helpline:***@127.0.0.1:1" in fix
    assert "Db-Pass-7731" not in output


def test_a_database_url_that_is_not_one_is_named_without_its_value(production):
    production.setenv("DATABASE_URL", "just-a-word-Pw-5521")
    code, output, _ = doctor()
    assert code == 1 and "postgresql://" in line_about(output, "FIX", "DATABASE_URL is not a database URL")
    assert "Pw-5521" not in output


def test_a_sqlite_database_in_a_missing_folder_is_named(production, tmp_path):
    production.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'no' / 'such' / 'helpline.db'}")
    code, output, _ = doctor()
    assert code == 1 and "does not exist" in line_about(output, "FIX", "database sqlite:///")
    assert not (tmp_path / "no").exists(), "the doctor creates nothing"


def test_unreachable_redis_is_reported_quickly_with_no_password(production):
    production.setenv("RATELIMIT_STORAGE_URI", "redis://:Redis-Pass-4410@127.0.0.1:1/0")
    code, output, seconds = doctor()
    assert code == 1 and seconds < QUICK
    assert "cannot be reached" in line_about(output, "FIX", "rate-limit storage at redis://127.0.0.1:1/0")
    assert "Redis-Pass-4410" not in output


@pytest.fixture
def silent_server():
    """A port that accepts connections and never says a word (a hung server, a black hole)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def test_services_that_accept_and_never_answer_are_reported_within_seconds(production, silent_server):
    production.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{silent_server}/test")
    production.setenv("RATELIMIT_STORAGE_URI", f"redis://127.0.0.1:{silent_server}/0")
    code, output, seconds = doctor()
    assert code == 1 and seconds < 2 * QUICK, output
    line_about(output, "FIX", f"the database at 127.0.0.1:{silent_server}")
    line_about(output, "FIX", f"rate-limit storage at redis://127.0.0.1:{silent_server}/0")


def test_no_secret_value_appears_whatever_is_wrong(env):
    secrets = {"TWILIO_AUTH_TOKEN": "short-tok-1", "SECRET_KEY": "short-key-2",
               "HELPLINE_ADMIN_PASSWORD": "admin-pw-3"}
    for name, value in secrets.items():
        env.setenv(name, value)
    env.setenv("DATABASE_URL", "postgresql://u:db-pw-4@127.0.0.1:1/x")
    env.setenv("RATELIMIT_STORAGE_URI", "redis://:redis-pw-5@127.0.0.1:1/0")
    env.setenv("HELPLINE_PUBLIC_URL", "http://line.example.org")
    code, output, _ = doctor()
    assert code == 1
    for value in [*secrets.values(), "db-pw-4", "redis-pw-5"]:
        assert value not in output


@pytest.mark.postgres
@pytest.mark.redis
def test_a_deployment_on_the_real_postgres_and_redis_passes(production):
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from bot.directory.database import database_url
    from tests.conftest import POSTGRES_URL
    from tests.test_limits import REDIS_URL, redis_client

    redis_client()  # skips without Redis
    engine = create_engine(database_url(POSTGRES_URL), connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    finally:
        engine.dispose()
    production.setenv("DATABASE_URL", POSTGRES_URL)
    production.setenv("RATELIMIT_STORAGE_URI", REDIS_URL)
    code, output, _ = doctor()
    assert code == 0, output
    line_about(output, "ok", "the database at 127.0.0.1:5432 answers")
    line_about(output, "ok", "the rate-limit storage at redis://127.0.0.1:6379/0 answers")
