"""The line's one clock and one time zone.

What time it is comes from a `Clock`, built once (`Clock.from_env`: HELPLINE_TIMEZONE, default
America/New_York) and handed to what needs it: the webhook, the renderer (open now), the
dashboard, the counts and the commands. The engine gets only `now`. Tests hand in a
`FakeClock` they move by hand, so nothing depends on when a test runs.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

ZONE_VARIABLE = "HELPLINE_TIMEZONE"
DEFAULT_ZONE = "America/New_York"


class Clock:
    """Seconds since the epoch, and the line's wall time and calendar day."""

    def __init__(self, zone: dt.tzinfo):
        self.zone = zone

    @classmethod
    def from_env(cls) -> Clock:
        """The system clock in the time zone HELPLINE_TIMEZONE names (ConfigError if it names none)."""
        name = os.environ.get(ZONE_VARIABLE) or DEFAULT_ZONE
        try:
            return cls(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ConfigError(f"{ZONE_VARIABLE}={name!r} is not a time zone (e.g. {DEFAULT_ZONE})") from err

    def now(self) -> float:
        return time.time()

    def local(self, at: float | dt.datetime | None = None) -> dt.datetime:
        """A moment (default: now) as the line's wall time, without a zone; a naive datetime is
        taken as already local.

        >>> Clock(ZoneInfo("America/New_York")).local(0.0)
        datetime.datetime(1969, 12, 31, 19, 0)
        """
        if at is None:
            at = self.now()
        if isinstance(at, dt.datetime):
            return at.astimezone(self.zone).replace(tzinfo=None) if at.tzinfo else at
        return dt.datetime.fromtimestamp(at, self.zone).replace(tzinfo=None)

    def today(self, at: float | None = None) -> dt.date:
        """The line's calendar day at a moment (default: now)."""
        return self.local(at).date()


class FakeClock(Clock):
    """A clock that stands still until moved: for tests of limits, windows and days.

    >>> clock = FakeClock(1_800_000_000.0)
    >>> clock.advance(60); clock.now()
    1800000060.0
    """

    def __init__(self, at: float, zone: dt.tzinfo | str = DEFAULT_ZONE):
        super().__init__(ZoneInfo(zone) if isinstance(zone, str) else zone)
        self.at = float(at)

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds
