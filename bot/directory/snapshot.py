"""The snapshot: what replies are made from, in memory (no query per text), and the built-in
last resort for when neither the database nor data/ can be read."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.directory.hours import ALWAYS, Hours
from bot.engine import places

STALE_DAYS = 180  # a service not confirmed for this long is flagged


@dataclass(frozen=True)
class PhoneView:
    number: str
    type: str  # HSDS phone.type: voice, text, textphone (TTY), cell
    keyword: str | None = None


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

    def services_for(self, category: str, near: places.Place | None = None,
                     region: Sequence[places.Place] = ()) -> tuple[ServiceView, ...]:
        """The services a reply may list for a category. A local service (one with towns or a
        county for its area) is offered only to someone who named a place inside that area, or,
        with no place named, when it serves a town of the line's region: with no place, those
        and the statewide and national ones in directory order; with a place, those whose area
        covers it, local ones first and nearest first, national ones last."""
        services = self.by_category.get(category, ())
        if near is None:
            return tuple(s for s in services if s.tier() > LOCAL or any(s.covers(town) for town in region))
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
