"""helpline purge-twilio: the line's old records leave Twilio, nothing else does, and only counts are shown."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from click.testing import CliRunner
from twilio.rest import Client

from bot.cli import purge
from bot.cli.purge import PurgeError, PurgeReport, line_numbers_from_env, parse_age, purge_twilio
from tests.fake_twilio import FOREVER, FakeMessage, FakeTwilio

ACCOUNT = "AC" + "a1" * 16
TOKEN = "fake-twilio-auth-token"
LINE = "+18605550100"
LINE_WA = "whatsapp:+18605550100"
OTHER = "+18605550199"  # another number on the same account: never touched
TEXTER = "+18605557319"
TEXTER_2 = "+18605557320"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TEN_MINUTES = dt.timedelta(minutes=10)


@pytest.fixture
def fake(monkeypatch) -> FakeTwilio:
    for name in ("TWILIO_EDGE", "TWILIO_REGION"):  # would rewrite the fake's host
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeTwilio(ACCOUNT, TOKEN) as server:
        yield server


def pointed_at(fake: FakeTwilio, client: Client) -> Client:
    """The real client, talking to the fake instead of api.twilio.com."""
    client.api.base_url = fake.url
    return client


@pytest.fixture
def twilio_client(fake) -> Client:
    client = pointed_at(fake, purge.make_client(ACCOUNT, TOKEN))
    yield client
    purge.close_client(client)


def stock(fake: FakeTwilio, now: dt.datetime) -> dict[str, FakeMessage]:
    """The line's records, old and new, in and out (SMS and WhatsApp), and another number's."""
    ago = lambda **kw: now - dt.timedelta(**kw)  # noqa: E731
    return {
        "old_in": fake.add(LINE, TEXTER, "MARKBODY old in", ago(minutes=30)),
        "old_out": fake.add(TEXTER, LINE, "MARKBODY old reply", ago(minutes=29)),
        "days_old_in": fake.add(LINE, TEXTER_2, "MARKBODY days ago", ago(days=3)),
        "old_wa_in": fake.add(LINE_WA, "whatsapp:" + TEXTER_2, "MARKBODY whatsapp", ago(minutes=40)),
        "old_not_final_once": fake.add(TEXTER, LINE, "MARKBODY still sending", ago(minutes=15), not_final=1),
        "new_in": fake.add(LINE, TEXTER, "MARKBODY new in", ago(minutes=5)),
        "new_out": fake.add(TEXTER, LINE, "MARKBODY new reply", ago(minutes=4)),
        "other_old_in": fake.add(OTHER, TEXTER, "MARKBODY to another number", ago(hours=2)),
        "other_old_out": fake.add(TEXTER, OTHER, "MARKBODY from another number", ago(hours=2)),
        "other_new_in": fake.add(OTHER, TEXTER_2, "MARKBODY to another, new", ago(minutes=1)),
    }


KEPT = {"new_in", "new_out", "other_old_in", "other_old_out", "other_new_in"}


def test_old_records_of_the_line_go_and_everything_else_stays(fake, twilio_client, monkeypatch):
    monkeypatch.setattr(purge, "PAGE_SIZE", 2)  # several pages per listing
    records = stock(fake, NOW)
    sleeps: list[float] = []

    report = purge.purge(twilio_client, [LINE, LINE_WA], TEN_MINUTES, NOW, sleep=sleeps.append)

    assert report == PurgeReport(deleted=5, not_final=0, failed=0)
    assert set(fake.messages) == {records[name].sid for name in KEPT}
    assert sleeps == [2.0], "one wait, then the not-final record went on the retry"
    assert fake.delete_attempts[records["old_not_final_once"].sid] == 2
    assert not set(fake.delete_attempts) & {records[name].sid for name in KEPT}, "never even tried"
    assert any("Page=1" in target for _, target in fake.requests), "the listing followed the pages"


def test_other_numbers_stay_even_when_twilio_ignores_the_number_filter(fake, twilio_client):
    records = stock(fake, NOW)
    fake.number_filters = False

    report = purge.purge(twilio_client, [LINE, LINE_WA], TEN_MINUTES, NOW, sleep=_no_sleep)

    assert report == PurgeReport(deleted=5, not_final=0, failed=0)
    assert set(fake.messages) == {records[name].sid for name in KEPT}


def test_same_day_records_newer_than_the_cutoff_stay_although_twilio_lists_them(fake, twilio_client):
    kept = fake.add(LINE, TEXTER, "MARKBODY", NOW - dt.timedelta(minutes=9, seconds=59))
    gone = fake.add(LINE, TEXTER, "MARKBODY", NOW - dt.timedelta(minutes=10, seconds=1))

    report = purge.purge(twilio_client, [LINE], TEN_MINUTES, NOW, sleep=_no_sleep)

    assert report == PurgeReport(deleted=1, not_final=0, failed=0)
    assert kept.sid in fake.messages and gone.sid not in fake.messages
    listing = next(target for method, target in fake.requests if method == "GET")
    assert "DateSent%3C=2026-11-27" in listing, "Twilio filters by whole day: ask up to the day after"


def test_a_record_never_final_is_reported_not_final_after_every_retry(fake, twilio_client):
    stuck = fake.add(TEXTER, LINE, "MARKBODY", NOW - dt.timedelta(hours=1), not_final=FOREVER)
    fake.add(LINE, TEXTER, "MARKBODY", NOW - dt.timedelta(hours=1))
    sleeps: list[float] = []

    report = purge.purge(twilio_client, [LINE], TEN_MINUTES, NOW, retries=3, wait=5.0, sleep=sleeps.append)

    assert report == PurgeReport(deleted=1, not_final=1, failed=0)
    assert not report.ok
    assert sleeps == [5.0, 5.0, 5.0]
    assert fake.delete_attempts[stuck.sid] == 4
    assert stuck.sid in fake.messages


def test_other_errors_count_as_failed_and_already_gone_counts_as_deleted(fake, twilio_client, caplog):
    refused = fake.add(LINE, TEXTER, "MARKBODY", NOW - dt.timedelta(hours=1), fails_with=20001)
    fake.add(LINE, TEXTER, "MARKBODY", NOW - dt.timedelta(hours=1), vanishes=True)
    sleeps: list[float] = []

    with caplog.at_level(logging.DEBUG):
        report = purge.purge(twilio_client, [LINE], TEN_MINUTES, NOW, sleep=sleeps.append)

    assert report == PurgeReport(deleted=1, not_final=0, failed=1)
    assert sleeps == [], "a failure is not retried"
    assert fake.delete_attempts[refused.sid] == 1
    assert "Twilio error 20001" in caplog.text
    assert_nothing_personal(caplog.text, fake)


def test_nothing_to_do_touches_nothing(fake, twilio_client):
    newer = fake.add(LINE, TEXTER, "MARKBODY", NOW)
    assert purge.purge(twilio_client, [LINE], TEN_MINUTES, NOW, sleep=_no_sleep) == PurgeReport(0, 0, 0)
    assert list(fake.messages) == [newer.sid]
    assert all(method == "GET" for method, _ in fake.requests)


def test_wrong_credentials_raise_an_error_naming_only_status_and_code(fake):
    client = pointed_at(fake, purge.make_client(ACCOUNT, "not-the-token"))
    fake.add(LINE, TEXTER, "MARKBODY", NOW - dt.timedelta(hours=1))
    try:
        with pytest.raises(PurgeError) as raised:
            purge.purge(client, [LINE], TEN_MINUTES, NOW, sleep=_no_sleep)
    finally:
        purge.close_client(client)
    assert str(raised.value) == "could not list the line's messages (HTTP 401, Twilio error 20003)"
    assert len(fake.messages) == 1


# The command


@pytest.fixture
def cli_env(fake, monkeypatch) -> FakeTwilio:
    """Credentials and numbers in the environment, and the command's client pointed at the fake."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HELPLINE_NUMBERS", f"{LINE}, {LINE_WA}")
    real = purge.make_client
    monkeypatch.setattr(purge, "make_client", lambda sid, token: pointed_at(fake, real(sid, token)))
    return fake


def test_command_prints_counts_only(cli_env, caplog):
    records = stock(cli_env, dt.datetime.now(dt.UTC))
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(purge_twilio, ["--older-than", "10m", "--wait", "0"])

    assert result.exit_code == 0, result.output
    assert result.output == "deleted 5, not final 0, failed 0\n"
    assert set(cli_env.messages) == {records[name].sid for name in KEPT}
    assert_nothing_personal(result.output + caplog.text, cli_env)


def test_command_exits_1_when_a_record_is_not_final(cli_env, caplog):
    cli_env.add(TEXTER, LINE, "MARKBODY", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), not_final=FOREVER)
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(purge_twilio, ["--numbers", LINE, "--wait", "0", "--retries", "1"])

    assert result.exit_code == 1
    assert "deleted 0, not final 1, failed 0" in result.output
    assert "next run" in result.output
    assert_nothing_personal(result.output + caplog.text, cli_env)


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
def test_command_without_credentials_exits_1_naming_what_is_missing(cli_env, monkeypatch, missing):
    monkeypatch.delenv(missing)
    result = CliRunner().invoke(purge_twilio, [])
    assert result.exit_code == 1
    assert f"{missing} not set" in result.output
    assert cli_env.requests == []


def test_command_with_wrong_credentials_exits_1_without_a_traceback(cli_env, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong")
    cli_env.add(LINE, TEXTER, "MARKBODY", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    result = CliRunner().invoke(purge_twilio, [])
    assert result.exit_code == 1
    assert "HTTP 401, Twilio error 20003" in result.output and "Traceback" not in result.output
    assert_nothing_personal(result.output, cli_env)


def test_command_needs_the_line_numbers_and_never_echoes_a_bad_one(cli_env, monkeypatch):
    monkeypatch.delenv("HELPLINE_NUMBERS")
    result = CliRunner().invoke(purge_twilio, [])
    assert result.exit_code == 1 and "HELPLINE_NUMBERS" in result.output

    result = CliRunner().invoke(purge_twilio, ["--numbers", f"{LINE},860-555-0177"])
    assert result.exit_code == 1
    assert "line number 2 is not in E.164 form" in result.output and "0177" not in result.output


def test_command_rejects_a_bad_age(cli_env):
    result = CliRunner().invoke(purge_twilio, ["--older-than", "ten minutes"])
    assert result.exit_code == 2 and "90s, 10m, 2h, 1d" in result.output
    assert cli_env.requests == []


def test_command_has_help():
    result = CliRunner().invoke(purge_twilio, ["--help"])
    assert result.exit_code == 0
    assert "Delete the line's message records" in result.output and "HELPLINE_NUMBERS" in result.output


# Parsing


@pytest.mark.parametrize(("text", "age"), [
    ("90s", dt.timedelta(seconds=90)),
    ("10m", dt.timedelta(minutes=10)),
    ("2h", dt.timedelta(hours=2)),
    ("1d", dt.timedelta(days=1)),
    (" 15m ", dt.timedelta(minutes=15)),
    ("0s", dt.timedelta(0)),
])
def test_parse_age(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "10", "m", "10 m", "-5m", "1.5h", "10min", "2w", "10M", "3651d", "9999999999s"])
def test_parse_age_rejects_with_a_clear_message(text):
    with pytest.raises(ValueError, match=r"whole number and s, m, h or d|too long"):
        parse_age(text)


def test_line_numbers_from_env():
    env = {"HELPLINE_NUMBERS": f" {LINE}, {LINE_WA},,{LINE} "}
    assert line_numbers_from_env(env) == [LINE, LINE_WA]
    assert line_numbers_from_env({}) == []
    with pytest.raises(ValueError, match="line number 2 is not in E.164") as raised:
        line_numbers_from_env({"HELPLINE_NUMBERS": f"{LINE},18605550101"})
    assert "18605550101" not in str(raised.value)


# Helpers


def assert_nothing_personal(text: str, fake: FakeTwilio) -> None:
    """No number (in any spelling), SID or body of any record, past or present, is in the text."""
    assert "MARKBODY" not in text
    for number in (LINE, OTHER, TEXTER, TEXTER_2):
        assert number.lstrip("+") not in text, "a phone number was shown"
    for sid in fake.delete_attempts.keys() | fake.messages.keys():
        assert sid not in text and sid[2:] not in text, "a message SID was shown"


def _no_sleep(_seconds: float) -> None:
    pass
