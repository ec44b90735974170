"""One clock and one time zone: the line's day, open-now and limits all follow HELPLINE_TIMEZONE."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.app import create_app
from bot.cli.chat import Conversation
from bot.clock import Clock, FakeClock
from bot.errors import ConfigError
from bot.stats import rows

LATE_EVENING = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))).timestamp()


def test_a_time_zone_that_does_not_exist_stops_the_line_at_start(config, monkeypatch):
    monkeypatch.setenv("HELPLINE_TIMEZONE", "America/Hartford")
    with pytest.raises(ConfigError, match="HELPLINE_TIMEZONE='America/Hartford' is not a time zone"):
        create_app(config)


def test_the_clock_reads_the_zone_from_the_environment(monkeypatch):
    monkeypatch.setenv("HELPLINE_TIMEZONE", "America/Los_Angeles")
    assert Clock.from_env().local(LATE_EVENING) == dt.datetime(2026, 11, 25, 20, 30)


def test_a_text_late_in_the_evening_is_counted_on_the_lines_day_not_greenwichs(config):
    """23:30 in Hartford is already the next day in UTC; the count belongs to the 25th."""
    app = create_app({**config, "CLOCK": FakeClock(LATE_EVENING)})
    Conversation.start(app, sender="+18605550700").send("hi")
    line = app.extensions["helpline"]
    line.tally.flush()
    counted = rows(line.directory.engine, 3, dt.date(2026, 11, 26))
    assert [row["day"] for row in counted] == ["2026-11-25"]
