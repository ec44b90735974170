"""From HSDS tables to what the line knows of each service: categories, features, phones it may
send, areas served, and the views replies are made from."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.directory.hours import read_hours
from bot.directory.snapshot import Area, PhoneView, ServiceView, Snapshot
from bot.engine import places
from bot.tables import places as town_tables

# The line's local taxonomies, attached to services through HSDS attribute rows.
CATEGORY_TAXONOMY = "helpline-category"  # term codes are the categories flows name: hotline.crisis, ...
FEATURE_TAXONOMY = "helpline-feature"  # what matters to a texter, shown briefly in replies
RECORD_TAXONOMY = "helpline-record"  # the attribute's value holds the line's own record of the service
FEATURES = ("24_7", "free", "confidential", "no_id", "walk_in", "spanish", "text_line")
RECORDS = ("source", "note", "label_es")
_KEYWORD = re.compile(r"^\s*keyword\s+([A-Za-z0-9]+)\b", re.IGNORECASE)  # phone.description of a text line
NUMBER_IN_TEXT = re.compile(r"\d(?:[ ().-]*\d){4,}")  # five digits or more, however written: a phone number
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ServiceFacts:
    row: dict[str, Any]
    position: int
    categories: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    record: dict[str, str] = field(default_factory=dict)  # source, note, label_es
    phones: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    areas: list[dict[str, Any]] = field(default_factory=list)
    locations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label_en(self) -> str:
        return self.row.get("alternate_name") or self.row["name"]

    def label_problem(self) -> str | None:
        """Why a label a texter would see cannot be sent: a number in it (numbers come only from
        checked phone rows), or a first character a spreadsheet runs as a formula."""
        for field_name, label in (("alternate_name", self.row.get("alternate_name")),
                                  ("label_es", self.record.get("label_es"))):
            if not label:
                continue
            if NUMBER_IN_TEXT.search(label):
                return f"the label {field_name} '{label}' holds a number; numbers go in phones, where they are checked"
            if label[0] in FORMULA_STARTS:
                return (f"the label {field_name} '{label}' starts with '{label[0]}', "
                        "which a spreadsheet runs as a formula")
        return None

    def why_not_sent(self) -> str | None:
        """None if the service may be sent to a texter; otherwise why not, in plain words."""
        label = self.label_problem()
        if label is not None:
            return label
        if self.row.get("status") != "active":
            return str(self.row.get("status") or "no status")
        if not self.row.get("assured_date"):
            return "never confirmed (no assured_date)"
        if not self.record.get("source"):
            return "no source"
        if not any(p.get("type") in _SENDABLE_PHONES for p in self.phones):
            return "no phone"
        return None


_SENDABLE_PHONES = (None, "voice", "cell", "text", "textphone")


def service_facts(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[ServiceFacts]:
    """Each service with its attributes, phones, schedules, areas and locations, in package order."""
    taxonomy = {t["id"]: t["name"] for t in tables.get("taxonomy", ())}
    terms = {t["id"]: (taxonomy.get(t.get("taxonomy_id")), t.get("code") or t["name"])
             for t in tables.get("taxonomy_term", ())}
    services = {s["id"]: ServiceFacts(dict(s), n) for n, s in enumerate(tables.get("service", ()))}
    at_location = {sal["id"]: sal for sal in tables.get("service_at_location", ())}
    locations = {loc["id"]: loc for loc in tables.get("location", ())}

    def owner(row: Mapping[str, Any]) -> ServiceFacts | None:
        sal = at_location.get(row.get("service_at_location_id") or "")
        return services.get(row.get("service_id") or (sal or {}).get("service_id") or "")

    for attribute in tables.get("attribute", ()):
        facts = services.get(attribute["link_id"]) if attribute.get("link_entity") == "service" else None
        taxonomy_name, code = terms.get(attribute["taxonomy_term_id"], (None, None))
        if facts is None or code is None:
            continue
        if taxonomy_name == CATEGORY_TAXONOMY:
            facts.categories.append(code)
        elif taxonomy_name == FEATURE_TAXONOMY:
            facts.features.append(code)
        elif taxonomy_name == RECORD_TAXONOMY and attribute.get("value"):
            facts.record[code] = attribute["value"]
    for language in tables.get("language", ()):
        facts = services.get(language.get("service_id") or "")
        if facts and (language.get("code") or "").lower() in ("es", "spa") and "spanish" not in facts.features:
            facts.features.append("spanish")
    for table, attr in (("phone", "phones"), ("schedule", "schedules")):
        for row in tables.get(table, ()):
            facts = owner(row)
            if facts is not None:
                getattr(facts, attr).append(row)
    for area in tables.get("service_area", ()):
        if area.get("service_id") in services:
            services[area["service_id"]].areas.append(area)
    for sal in tables.get("service_at_location", ()):
        if sal["service_id"] in services and sal["location_id"] in locations:
            services[sal["service_id"]].locations.append(locations[sal["location_id"]])
    return list(services.values())


def keyword(phone: Mapping[str, Any]) -> str | None:
    """The word to text, written in phone.description as "keyword HELP"."""
    match = _KEYWORD.match(phone.get("description") or "")
    return match.group(1).upper() if match else None


_NATION = {"united states", "usa", "us", "national", "nationwide", "united states of america"}
_STATE = {"connecticut", "ct", "statewide", "state of connecticut"}


def area_of(name: str) -> Area:
    key = places.key(name)
    if key in _NATION:
        return Area(key, "nation")
    if key in _STATE:
        return Area(key, "state")
    if key.endswith(" county"):
        return Area(key, "county")
    town = town_tables().by_name(name)
    return Area(places.key(town.name) if town else key, "town")


def view_of(facts: ServiceFacts) -> ServiceView:
    """What a reply needs of a sendable service."""
    phones = tuple(PhoneView(p["number"], p.get("type") or "voice", keyword(p) if p.get("type") == "text" else None)
                   for p in facts.phones if p.get("type") in _SENDABLE_PHONES)
    areas = tuple(area_of(a["name"]) for a in facts.areas if a.get("name"))
    points = tuple((float(loc["latitude"]), float(loc["longitude"])) for loc in facts.locations
                   if loc.get("latitude") is not None and loc.get("longitude") is not None)
    if not points:  # no location: the middle of each town it serves
        towns = [town_tables().by_name(a.key) for a in areas if a.level == "town"]
        points = tuple((t.lat, t.lon) for t in towns if t is not None)
    hours = tuple(h for h in (read_hours(s) for s in facts.schedules) if h is not None)
    label = {"en": facts.label_en, "es": facts.record.get("label_es") or facts.label_en}
    return ServiceView(facts.row["id"], label, phones, tuple(dict.fromkeys(facts.categories)),
                       tuple(f for f in FEATURES if f in facts.features), hours, areas, points,
                       facts.row["name"], facts.row.get("assured_date"), facts.position)


def snapshot_of(tables: Mapping[str, Sequence[Mapping[str, Any]]], source: str) -> Snapshot:
    """The sendable services by category, in package order."""
    by_category: dict[str, list[ServiceView]] = {}
    for facts in service_facts(tables):
        if facts.why_not_sent() is None:
            view = view_of(facts)
            for category in view.categories:
                by_category.setdefault(category, []).append(view)
    return Snapshot({k: tuple(v) for k, v in by_category.items()}, source)
