"""One service in one readable file, compiled into the HSDS rows of data/.

An outreach worker writes what they know about a service (docs/directory.md, "Add or change a
service"), and `helpline directory add FILE` turns it into the dozen rows HSDS spreads over six
tables, with ids made from the service's name, so adding the same file again changes the
service rather than adding a second one. The result is held to every rule data/ is held to
before anything is written.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from bot import directory
from bot.directory import hsds
from bot.engine.flows import FlowError
from bot.engine.yamlfile import line_of, read_yaml
from bot.tables import places as town_tables

# Ids are uuid5 of a name in this namespace: the same service file always gives the same rows.
NAMESPACE = uuid.UUID("6c1d3c1e-5b0e-4f57-9a55-1f2e6d1f4a10")
FIELDS = {
    "name": "the full name of the service (never shown first)",
    "organization": "the organization that runs it",
    "about": "one sentence on what it is, for the team",
    "label": "the short, neutral words a texter sees: {en: ..., es: ...}",
    "status": "active or inactive",
    "assured_date": "the day a person confirmed it, YYYY-MM-DD",
    "source": "where it was confirmed (a page's address, or 'phone call')",
    "note": "for the team: why it is listed, or what is missing before it can be sent",
    "categories": "the needs it serves: [health.testing, shelter, ...]",
    "features": "[24_7, free, confidential, no_id, walk_in, spanish, text_line]",
    "phones": "[{number: 860-555-0100, type: voice}]; type voice, text, textphone or cell",
    "area": "where it serves: towns, 'Hartford County', 'Connecticut' or 'United States'",
    "address": "{street: ..., town: ..., zip: '06106'} (optional; all three or none)",
    "hours": "[{days: MO,TU,WE,TH,FR, opens: '09:00', closes: '17:00'}] (optional)",
}
REQUIRED = ("name", "organization", "label", "status", "categories", "area")
STATUSES = ("active", "inactive")
PHONE_TYPES = ("voice", "text", "textphone", "cell")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def make_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\0".join(parts)))


class _Reader:
    """Reads the fields of one service file, each problem naming the file and line."""

    def __init__(self, path: Path, data: Mapping[str, Any]):
        self.path, self.data, self.line = path, data, line_of(data)

    def fail(self, problem: str, value: Any = None) -> FlowError:
        return FlowError(self.path, problem, line=line_of(value) or self.line)

    def text(self, key: str, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(f"'{key}' is missing: {FIELDS[key]}")
            return ""
        if isinstance(value, (dict, list)):
            raise self.fail(f"'{key}' should be plain text: {FIELDS[key]}", value)
        return str(value).strip()

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key) or []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise self.fail(f"'{key}' should be a list: {FIELDS[key]}", value)
        return value


def read_service(path: Path | str) -> dict[str, Any]:
    """The fields of a service file, checked for shape (the HSDS rules come after, on the rows)."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise FlowError(path, "should be a set of fields like 'name: ...', one per line (see docs/directory.md)")
    reader = _Reader(path, data)
    _check_fields(reader)
    label = data["label"]
    status = reader.text("status", required=True)
    if status not in STATUSES:
        raise reader.fail(f"'status' is '{status}'; it should be one of: {', '.join(STATUSES)}")
    assured = _assured_date(reader)
    if status == "active" and not data.get("phones"):
        raise reader.fail("an active service needs 'phones': " + FIELDS["phones"])
    phones = _phones(reader)
    areas = _areas(reader)
    address = _address(reader)
    hours = _hours(reader)
    return {
        "name": reader.text("name", True), "organization": reader.text("organization", True),
        "about": reader.text("about"), "label": {"en": str(label["en"]).strip(), "es": str(label["es"]).strip()},
        "status": status, "assured_date": assured, "source": reader.text("source"), "note": reader.text("note"),
        "categories": [str(c).strip() for c in reader.items("categories")],
        "features": [_feature(f) for f in reader.items("features")],
        "phones": phones, "area": areas, "address": address, "hours": hours,
    }


def _check_fields(reader: _Reader) -> None:
    """Refuses an unknown field, a missing required one, or a label without both languages."""
    unknown = sorted(set(reader.data) - set(FIELDS))
    if unknown:
        raise reader.fail(f"unknown field '{unknown[0]}'; the fields are: {', '.join(FIELDS)}")
    for key in REQUIRED:
        if not reader.data.get(key):
            raise reader.fail(f"'{key}' is missing: {FIELDS[key]}")
    label = reader.data["label"]
    if not isinstance(label, dict) or not label.get("en") or not label.get("es"):
        raise reader.fail("'label' needs both languages: {en: ..., es: ...}", label)


def _assured_date(reader: _Reader) -> Any:
    """The assured_date as a date (None if not given)."""
    assured = reader.data.get("assured_date")
    if assured is not None and not isinstance(assured, dt.date):
        try:
            assured = dt.date.fromisoformat(str(assured))
        except ValueError:
            raise reader.fail(f"'assured_date' is '{assured}'; write it as YYYY-MM-DD") from None
    return assured


def _phones(reader: _Reader) -> list[dict[str, Any]]:
    """The phones as HSDS phone fields: number, type and description (the keyword, if any)."""
    phones = []
    for phone in reader.items("phones"):
        if not isinstance(phone, dict) or not phone.get("number"):
            raise reader.fail("each phone needs a number: {number: 860-555-0100, type: voice}", phone)
        kind = str(phone.get("type") or "voice")
        if kind not in PHONE_TYPES:
            raise reader.fail(f"phone type '{kind}' should be one of: {', '.join(PHONE_TYPES)}", phone)
        keyword = str(phone.get("keyword") or "").strip()
        phones.append({"number": str(phone["number"]).strip(), "type": kind,
                       "description": f"keyword {keyword}" if keyword else None})
    return phones


def _areas(reader: _Reader) -> list[str]:
    """The areas served, each a town, a county, 'Connecticut' or 'United States'."""
    areas = [str(a).strip() for a in reader.items("area")]
    for area in areas:
        known = area.casefold() in ("connecticut", "united states") or area.casefold().endswith(" county")
        if not known and town_tables().by_name(area) is None:
            raise reader.fail(f"area '{area}' is not a Connecticut town the postal data knows, a county, "
                              "'Connecticut' or 'United States'")
    return areas


def _address(reader: _Reader) -> Any:
    """The address as written (None if not given), once it has a street, a known town and a ZIP code."""
    address = reader.data.get("address")
    if address is not None:
        if not isinstance(address, dict) or not address.get("street") or not address.get("town"):
            raise reader.fail("'address' needs at least a street and a town: {street: ..., town: ...}", address)
        if town_tables().by_name(str(address["town"])) is None:
            raise reader.fail(f"the address's town '{address['town']}' is not a Connecticut town", address)
        if not (isinstance(address.get("zip"), str) and len(address["zip"]) == 5 and address["zip"].isdigit()):
            raise reader.fail("the address needs its ZIP code, in quotes, five digits: zip: '06106' "
                              "(leave the address out if the ZIP code is not known)", address)
    return address


def _hours(reader: _Reader) -> list[dict[str, str]]:
    """The hours rules as HSDS schedule fields: byday, opens_at and closes_at."""
    hours = []
    for rule in reader.items("hours"):
        if not isinstance(rule, dict) or not rule.get("days") or not rule.get("opens") or not rule.get("closes"):
            raise reader.fail("each hours rule needs days, opens and closes", rule)
        days = [d.strip().upper() for d in str(rule["days"]).split(",")]
        if any(d not in DAYS for d in days):
            raise reader.fail(f"days '{rule['days']}' should be among {','.join(DAYS)}", rule)
        hours.append({"byday": ",".join(days), "opens_at": _time(rule["opens"], reader, rule),
                      "closes_at": _time(rule["closes"], reader, rule)})
    return hours


def _feature(value: Any) -> str:
    """A feature's name: YAML reads 24_7 unquoted as the number 247; "24/7" is meant the same."""
    text = str(value).strip().replace("/", "_")
    return "24_7" if text == "247" else text


def _time(value: Any, reader: _Reader, rule: Any) -> str:
    if isinstance(value, int):  # YAML reads 09:00 unquoted as minutes (sexagesimal): 540
        value = f"{value // 60:02d}:{value % 60:02d}"
    text = str(value).strip()
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        raise reader.fail(f"time '{value}' should be HH:MM, 24-hour, in quotes: '09:00'", rule)
    return text


def _terms(tables: Mapping[str, list[dict]]) -> dict[tuple[str, str], str]:
    """(taxonomy, code) -> taxonomy term id."""
    return {(t.get("taxonomy") or "", t.get("code") or ""): t["id"] for t in tables.get("taxonomy_term", ())}


def compile_rows(service: Mapping[str, Any], tables: Mapping[str, list[dict]], where: Path) -> dict[str, list[dict]]:
    """The rows of one service, to put in place of any rows it had (same name, same ids)."""
    name = service["name"]
    existing = {r["name"]: r["id"] for r in tables.get("service", ())}
    sid = existing.get(name) or make_id("service", name)  # a service already in data/ keeps its id
    orgs = {o["name"]: o["id"] for o in tables.get("organization", ())}
    oid = orgs.get(service["organization"]) or make_id("organization", service["organization"])
    terms = _terms(tables)
    organization = [] if service["organization"] in orgs else [
        {"id": oid, "name": service["organization"], "description": service["about"] or service["organization"]}]
    return {
        "organization": organization,
        "service": [{"id": sid, "organization_id": oid, "name": name, "alternate_name": service["label"]["en"],
                     "description": service["about"] or None, "status": service["status"],
                     "assured_date": service["assured_date"]}],
        "phone": [{"id": make_id("phone", name, str(i)), "service_id": sid, **phone}
                  for i, phone in enumerate(service["phones"])],
        "attribute": _attribute_rows(service, sid, terms, where),
        "service_area": [{"id": make_id("area", name, area), "service_id": sid, "name": area}
                         for area in service["area"]],
        "schedule": [{"id": make_id("schedule", name, str(i)), "service_id": sid, "freq": "WEEKLY",
                      "description": None, **rule} for i, rule in enumerate(service["hours"])],
        **_location_rows(service, sid, oid),
    }


def _attribute_rows(service: Mapping[str, Any], sid: str, terms: Mapping[tuple[str, str], str],
                    where: Path) -> list[dict]:
    """The service's attribute rows: its categories, its features, then its record values."""
    name = service["name"]
    tags = [("helpline-category", c, None) for c in service["categories"]]
    tags += [("helpline-feature", f, None) for f in service["features"]]
    tags += [("helpline-record", key, value) for key, value in
             (("label_es", service["label"]["es"]), ("source", service["source"]), ("note", service["note"])) if value]
    rows = []
    for taxonomy, code, value in tags:
        term, kind = terms.get((taxonomy, code)), taxonomy.split("-", 1)[1]  # category, feature, record
        if term is None:
            known = sorted(c for t, c in terms if t == taxonomy)
            raise FlowError(where, f"'{code}' is not one of the line's {kind} names: {', '.join(known)}")
        rows.append({"id": make_id("attribute", name, taxonomy, code), "link_id": sid,
                     "taxonomy_term_id": term, "link_type": kind, "link_entity": "service",
                     "value": value})
    return rows


def _location_rows(service: Mapping[str, Any], sid: str, oid: str) -> dict[str, list[dict]]:
    """The location, address and service_at_location rows of the service's address (none without one)."""
    rows: dict[str, list[dict]] = {"location": [], "address": [], "service_at_location": []}
    address = service["address"]
    if not address:
        return rows
    name = service["name"]
    town = town_tables().by_name(str(address["town"]))
    lid = make_id("location", name)
    street = f"{address['street']}, {town.name}"
    rows["location"].append({"id": lid, "location_type": "physical", "organization_id": oid, "name": street,
                             "description": f"Coordinates are the middle of {town.name} (ZIP code data), "
                                            "not the building.",
                             "latitude": round(town.lat, 4), "longitude": round(town.lon, 4)})
    rows["address"].append({"id": make_id("address", name), "location_id": lid, "address_1": address["street"],
                            "city": town.name, "state_province": "CT", "postal_code": address.get("zip"),
                            "country": "US", "address_type": "physical"})
    rows["service_at_location"].append({"id": make_id("service_at_location", name), "service_id": sid,
                                        "location_id": lid})
    return rows


def merged(tables: Mapping[str, list[dict]], new: Mapping[str, list[dict]]) -> dict[str, list[dict]]:
    """The tables with the service's old rows taken out and its new rows put in (a service keeps its place)."""
    service = new["service"][0]
    sid, own_location = service["id"], make_id("location", service["name"])
    linked = {"phone": "service_id", "service_area": "service_id", "schedule": "service_id",
              "service_at_location": "service_id", "attribute": "link_id", "location": "id",
              "address": "location_id"}
    out: dict[str, list[dict]] = {}
    for table, rows in tables.items():
        key = linked.get(table)
        gone = own_location if table in ("location", "address") else sid
        kept = [r for r in rows if not (key and r.get(key) == gone)]
        out[table] = hsds.replaced_or_added(kept, new.get(table, ()), lambda r: r["id"])
    return out


def add_service(path: Path | str, data_dir: Path | str) -> tuple[str, bool]:
    """Add or change the service a file describes in data/; (its name, whether it was new).

    Nothing in data/ changes unless the whole result passes the checks the line starts with.
    """
    path, data_dir = Path(path), Path(data_dir)
    service = read_service(path)
    package = directory.read_data(data_dir)
    tables = {name: [dict(r.values) for r in records] for name, records in package.tables.items()}
    new = compile_rows(service, tables, path)
    existed = any(r["id"] == new["service"][0]["id"] for r in tables["service"])
    result = merged(tables, new)
    with tempfile.TemporaryDirectory() as tmp:
        hsds.write_package(result, package.rejected, tmp)
        try:
            directory.read_data(tmp)
        except FlowError as err:
            table = Path(err.path).name
            raise FlowError(path, f"the service breaks a rule of data/ ({table}): {err.problem}") from None
        for written in Path(tmp).iterdir():
            shutil.copyfile(written, data_dir / written.name)
    return service["name"], not existed


@click.command("add", help="Add a service to data/, or change it, from one readable file "
               "(docs/directory.md shows one). Checked like data/ before anything is written.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The directory package to change. Default: data/ here.")
def add_command(path: Path, data_dir: Path | None) -> None:
    from bot import ROOT

    try:
        name, new = add_service(path, data_dir or ROOT / "data")
    except FlowError as err:
        click.echo(f"error: {err}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{'added' if new else 'changed'} '{name}' in {data_dir or 'data/'}. "
               "Check it with: helpline directory check")
