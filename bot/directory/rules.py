"""The line's own rules on top of HSDS: a number known to be wrong is refused anywhere, and
(strict) every sendable service has what a reply needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.directory import hsds
from bot.directory.facts import FEATURE_TAXONOMY, FEATURES, RECORD_TAXONOMY, RECORDS, ServiceFacts, service_facts
from bot.directory.hours import always_open, read_hours
from bot.errors import FlowError


def digits(number: str) -> str:
    digits = "".join(ch for ch in number if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def apply_line_rules(package: hsds.Package, rejected: Sequence[hsds.Rejected], *, strict: bool) -> None:
    """Refuse rejected numbers anywhere; for data/ (strict), also what a sendable service needs.

    Strict: the first problem is a FlowError naming the file and line. Otherwise a phone with a
    rejected number is dropped with a warning.
    """
    refused = {digits(r.number): r for r in rejected}
    problems = hsds.Problems(package, strict)
    kept = []
    for record in package.tables["phone"]:
        match = refused.get(digits(record.values["number"]))
        if match is None:
            kept.append(record)
            continue
        where = f"{Path(match.path).name}:{match.line}" if match.path else "the rejected numbers"
        problems.warn(record, f"phone {record.values['number']} is a rejected number ({where}): {match.why}"
                      + ("" if strict else "; the phone was skipped"))
    package.tables["phone"] = kept
    if strict:
        _strict_rules(package)


def _strict_rules(package: hsds.Package) -> None:
    """Refuse, at the first problem, what data/ may not hold (the checks run in this order)."""
    _check_ids(package)
    _check_phone_types(package)
    _check_terms(package)
    records = {r.id: r for r in package.tables["service"]}
    schedule_records = {id(r.values): r for r in package.tables["schedule"]}
    for facts in service_facts({name: package.rows(name) for name in package.tables}):
        record = records[facts.row["id"]]
        what = f"service '{facts.row['name']}'"
        if facts.row["status"] != "active":
            continue
        _check_confirmed(record, facts, what)
        _check_reachable(record, facts, what, schedule_records)


def _fail(record: hsds.Record, problem: str) -> None:
    raise FlowError(record.path, problem, line=record.line)


def _check_ids(package: hsds.Package) -> None:
    """Refuse any id that is not a UUID."""
    for records in package.tables.values():
        for record in records:
            if not hsds.is_uuid(record.id):
                _fail(record, f"{record.table} id '{record.id}' is not a UUID; make one with "
                              "python3 -c 'import uuid; print(uuid.uuid4())'")


def _check_phone_types(package: hsds.Package) -> None:
    """Refuse a phone type HSDS does not have."""
    for record in package.tables["phone"]:
        if record.values.get("type") not in hsds.PHONE_TYPES:
            _fail(record, f"phone type '{record.values.get('type')}'; use one of {', '.join(hsds.PHONE_TYPES)}")


def _check_terms(package: hsds.Package) -> None:
    """Refuse a feature or record term the line does not use."""
    taxonomy = {r.id: r.values["name"] for r in package.tables["taxonomy"]}
    for record in package.tables["taxonomy_term"]:
        name, code = taxonomy.get(record.values.get("taxonomy_id")), record.values.get("code")
        if name == FEATURE_TAXONOMY and code not in FEATURES:
            _fail(record, f"feature '{code}' is not one the line can show; use one of {', '.join(FEATURES)}")
        if name == RECORD_TAXONOMY and code not in RECORDS:
            _fail(record, f"record term '{code}' is not one the line keeps; use one of {', '.join(RECORDS)}")


def _check_confirmed(record: hsds.Record, facts: ServiceFacts, what: str) -> None:
    """Refuse an active service no person has confirmed, or without its source and labels."""
    if not facts.row.get("assured_date"):
        _fail(record, f"{what} is active but has no assured_date: only services a person has confirmed "
                      "are active (make it inactive, with a note, until someone does)")
    if not facts.record.get("source"):
        _fail(record, f"{what} is active and assured but names no source (a helpline-record 'source' attribute)")
    if not facts.row.get("alternate_name") or not facts.record.get("label_es"):
        _fail(record, f"{what} needs a short neutral label in English (alternate_name) and Spanish "
                      "(a helpline-record 'label_es' attribute)")
    problem = facts.label_problem()
    if problem:
        _fail(record, f"{what}: {problem}")


def _check_reachable(record: hsds.Record, facts: ServiceFacts, what: str,
                     schedule_records: Mapping[int, hsds.Record]) -> None:
    """Refuse an active service without a phone, an area, readable hours, or features that match them."""
    if not facts.phones:
        _fail(record, f"{what} is active and assured but has no phone")
    if not facts.areas:
        _fail(record, f"{what} has no service area (a town, 'Connecticut' or 'United States')")
    for schedule in facts.schedules:
        if read_hours(schedule) is None:
            _fail(schedule_records[id(schedule)], f"the schedule of {what} is not a weekly rule the line "
                  "reads: give freq WEEKLY, byday (MO,TU,...), opens_at and closes_at")
    if ("24_7" in facts.features) != always_open(h for h in map(read_hours, facts.schedules) if h):
        _fail(record, f"{what}: the 24_7 feature and a schedule open every day 00:00-23:59 go together")
    if "text_line" in facts.features and not any(p.get("type") == "text" for p in facts.phones):
        _fail(record, f"{what} has the text_line feature but no phone of type text")
