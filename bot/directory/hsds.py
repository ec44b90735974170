"""HSDS 3.0 in and out: read a Tabular Data Package or the JSON form, check it, write a package.

Open Referral's Human Services Data Specification (HSDS) is how 211 systems and resource
databases exchange data. This module knows the core tables this line uses, reads them from a
folder of CSV files with a datapackage.json (or from HSDS JSON), checks types, required fields
and references, and writes a package back. It touches no database; bot/directory.py does.

Two ways of reading: `strict` (our own data/: the first problem is a FlowError naming the file,
the line and the problem, and the line refuses to start) and lenient (`helpline directory
import`: a reference to a record that does not exist is a warning, one per reference, and the
reference, or the row when it cannot stand without it, is skipped).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.engine.flows import FlowError

T = TypeVar("T")
PACKAGE_FILE = "datapackage.json"
REJECTED_FILE = "rejected.csv"  # the numbers known to be wrong: ours, outside the HSDS tables
HSDS_VERSION = "3.0.0"
PHONE_TYPES = ("voice", "text", "textphone", "cell", "fax", "video", "pager")  # RFC 6350, as HSDS asks


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"  # string | number | date | time | datetime (Table Schema types)
    format: str = ""  # uuid | email | uri
    required: bool = False
    ref: str | None = None  # the table whose id this field names (a declared foreign key)
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str  # the HSDS object: "service"
    path: str  # its file in a package: "services.csv"
    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


_TYPES = {"uuid": ("string", "uuid"), "email": ("string", "email"), "uri": ("string", "uri"),
          "number": ("number", ""), "date": ("date", ""), "time": ("time", ""), "datetime": ("datetime", "")}
ENUMS = {
    "status": ("active", "inactive", "defunct", "temporarily closed"),
    "location_type": ("physical", "postal", "virtual"),
    "address_type": ("physical", "postal", "virtual"),
    "wkst": ("MO", "TU", "WE", "TH", "FR", "SA", "SU"),
    "freq": ("WEEKLY", "MONTHLY"),
}


def _table(name: str, path: str, spec: str) -> Table:
    """A table from a compact field list: `name[:type][*][>table]`; * required, > foreign key."""
    fields = []
    for item in spec.split():
        match = re.fullmatch(r"(\w+)(?::(\w+))?(\*)?(?:>(\w+))?", item)
        assert match, item
        name_, kind, required, ref = match.groups()
        type_, format_ = _TYPES.get(kind or "", ("string", ""))
        fields.append(Field(name_, type_, format_, bool(required), ref, ENUMS.get(name_, ())))
    return Table(name, path, tuple(fields))


# The core HSDS 3.0 tables this line keeps, in an order where every table comes after the
# tables it refers to. Fields, types, required fields and foreign keys are those of the HSDS
# 3.0 datapackage.json. parent_organization_id and taxonomy_term.parent_id are not declared
# foreign keys there: parents often live outside a package, so they are kept as given.
TABLES: tuple[Table, ...] = (
    _table("organization", "organizations.csv",
           "id:uuid* name* alternate_name description* email:email website:uri tax_status tax_id "
           "year_incorporated:number legal_status logo uri:uri parent_organization_id:uuid"),
    _table("program", "programs.csv", "id:uuid* organization_id:uuid*>organization name* alternate_name description*"),
    _table("service", "services.csv",
           "id:uuid* organization_id:uuid*>organization program_id:uuid>program name* alternate_name description "
           "url:uri email:email status* interpretation_services application_process fees_description wait_time "
           "fees accreditations eligibility_description minimum_age:number maximum_age:number assured_date:date "
           "assurer_email:email licenses alert last_modified:datetime"),
    _table("location", "locations.csv",
           "id:uuid* location_type* url:uri organization_id:uuid>organization name alternate_name description "
           "transportation latitude:number longitude:number external_identifier external_identifier_type"),
    _table("service_at_location", "service_at_location.csv",
           "id:uuid* service_id:uuid*>service location_id:uuid*>location description"),
    _table("contact", "contacts.csv",
           "id:uuid* organization_id:uuid>organization service_id:uuid>service "
           "service_at_location_id:uuid>service_at_location location_id:uuid>location name title department "
           "email:email"),
    _table("phone", "phones.csv",
           "id:uuid* location_id:uuid>location service_id:uuid>service organization_id:uuid>organization "
           "contact_id:uuid>contact service_at_location_id:uuid>service_at_location number* extension:number "
           "type description"),
    _table("schedule", "schedules.csv",
           "id:uuid* service_id:uuid>service location_id:uuid>location "
           "service_at_location_id:uuid>service_at_location valid_from:date valid_to:date dtstart:date "
           "timezone:number until:date count:number wkst freq interval:number byday byweekno bymonthday "
           "byyearday description opens_at:time closes_at:time schedule_link:uri attending_type notes"),
    _table("address", "addresses.csv",
           "id:uuid* location_id:uuid>location attention address_1* address_2 city* region state_province* "
           "postal_code* country* address_type*"),
    _table("language", "languages.csv",
           "id:uuid* service_id:uuid>service location_id:uuid>location phone_id:uuid>phone name code note"),
    _table("service_area", "service_areas.csv",
           "id:uuid* service_id:uuid>service name description extent extent_type uri"),
    _table("taxonomy", "taxonomies.csv", "id:uuid* name* description* uri:uri version"),
    _table("taxonomy_term", "taxonomy_terms.csv",
           "id:uuid* code name* description* parent_id:uuid taxonomy language taxonomy_id:uuid>taxonomy "
           "term_uri:uri"),
    _table("attribute", "attributes.csv",
           "id:uuid* link_id:uuid* taxonomy_term_id:uuid*>taxonomy_term link_type link_entity* value"),
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
BY_PATH: dict[str, Table] = {t.path: t for t in TABLES}
_PLURALS = {"taxonomy": "taxonomies", "address": "addresses"}


def plural(table: str, count: int) -> str:
    """ "1 service", "3 taxonomies"."""
    word = table.replace("_", " ")
    return f"{count} {word if count == 1 else _PLURALS.get(table, word + 's')}"


@dataclass
class Record:
    """One row of a table, with where it was read (for messages)."""

    table: str
    values: dict[str, Any]
    path: str = ""
    line: int | None = None
    where: str = ""  # "locations.csv line 2" or "service_full.json: phones[0]"

    @property
    def id(self) -> str:
        return self.values["id"]


@dataclass(frozen=True)
class Rejected:
    number: str
    why: str
    path: str = ""
    line: int | None = None


@dataclass
class Package:
    """What was read: the records of each table in order, the rejected numbers, and what was said."""

    tables: dict[str, list[Record]] = field(default_factory=lambda: {t.name: [] for t in TABLES})
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [r.values for r in self.tables[table]]

    def counts(self) -> str:
        return ", ".join(plural(t.name, len(self.tables[t.name])) for t in TABLES if self.tables[t.name])


class Problems:
    """Where problems go: the first is fatal when strict; otherwise they are collected."""

    def __init__(self, package: Package, strict: bool):
        self.package, self.strict = package, strict

    def warn(self, record: Record | None, problem: str, *, path: str = "", line: int | None = None) -> None:
        if self.strict:
            raise FlowError(record.path if record else path, problem, line=record.line if record else line)
        where = record.where if record else path + (f" line {line}" if line else "")
        self.package.warnings.append(f"{where}: {problem}")


# Values: from text (CSV) or JSON, to Python, and back to text.

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")


def parse_value(item: Field, raw: Any) -> Any:
    """The value a field holds (None for empty); ValueError saying what is wrong."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if item.type == "number":
        if isinstance(raw, bool):
            raise ValueError("must be a number")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"'{raw}' is not a number")
        return number
    text = str(raw).strip()
    if item.type == "date":
        try:
            if not re.fullmatch(r"\d{4}-\d\d-\d\d", text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a date; write it as YYYY-MM-DD") from None
    if item.type == "time" and not _TIME.fullmatch(text):
        raise ValueError(f"'{text}' is not a time; write it as HH:MM (24-hour)")
    if item.type == "datetime":
        try:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'{text}' is not a date and time (ISO 8601)") from None
    if item.enum and text not in item.enum:
        raise ValueError(f"'{text}' is not one of: {', '.join(item.enum)}")
    return text


def format_value(value: Any) -> str:
    """A value as it is written in a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def json_value(item: Field, value: Any) -> Any:
    """A value as HSDS JSON holds it."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return format_value(value) if item.type != "number" else value


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False


# Reading.


def _record(table: Table, raw: Mapping[str, Any], problems: Problems, path: str, line: int | None,
            where: str) -> Record | None:
    """Parse one row; None (with a warning) when it cannot be kept."""
    record = Record(table.name, {}, path, line, where)
    unknown = [k for k in raw if k not in table.names and k is not None and not isinstance(raw[k], list | dict)]
    if unknown and problems.strict:
        problems.warn(record, f"unknown column(s) {', '.join(sorted(unknown))} in {table.path}")
    for item in table.fields:
        try:
            value = parse_value(item, raw.get(item.name))
        except ValueError as err:
            if item.required:
                problems.warn(record, f"{table.name}.{item.name} {err}; the row was skipped")
                return None
            problems.warn(record, f"{table.name}.{item.name} {err}; the value was skipped")
            value = None
        if value is None and item.required and not item.ref:
            problems.warn(record, f"{table.name} has no {item.name}, which HSDS requires; the row was skipped")
            return None
        record.values[item.name] = value
    return record


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        for raw in reader:
            if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
                continue
            yield reader.line_num, raw


def _resources(folder: Path, problems: Problems) -> dict[str, Path]:
    """table name -> CSV file, from datapackage.json (or the usual file names without one)."""
    index = folder / PACKAGE_FILE
    if not index.is_file():
        if problems.strict:
            raise FlowError(index, "is missing: data/ must be an HSDS Tabular Data Package")
        problems.package.notes.append(f"no {PACKAGE_FILE} in {folder}; reading the usual HSDS file names")
        return {t.name: folder / t.path for t in TABLES if (folder / t.path).is_file()}
    try:
        document = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FlowError(index, f"cannot be read as JSON: {err}") from None
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list):
        raise FlowError(index, "has no 'resources' list")
    found, unused = {}, []
    for resource in resources:
        if not isinstance(resource, dict) or not isinstance(resource.get("path"), str):
            raise FlowError(index, "a resource has no 'path'")
        name = resource.get("name") or Path(resource["path"]).stem
        table = BY_NAME.get(name) or BY_PATH.get(Path(resource["path"]).name)
        if table is None:
            unused.append(str(name))
            continue
        path = (folder / resource["path"]).resolve()
        if not path.is_relative_to(folder.resolve()):  # "../x.csv", "/etc/passwd": only the package's own files
            raise FlowError(index, f"resource '{name}' has path {resource['path']!r}, outside the package folder")
        found[table.name] = path
    if unused:
        message = f"not read (this line does not use these HSDS tables): {', '.join(sorted(unused))}"
        if problems.strict:
            raise FlowError(index, message)
        problems.package.notes.append(message)
    return found


def _read_csv_package(folder: Path, problems: Problems) -> None:
    for name, path in _resources(folder, problems).items():
        table = BY_NAME[name]
        if not path.is_file():
            problems.warn(None, f"{table.path} is listed in {PACKAGE_FILE} but missing", path=str(path))
            continue
        try:
            for line, raw in _csv_rows(path):
                record = _record(table, raw, problems, str(path), line, f"{path.name} line {line}")
                if record is not None:
                    problems.package.tables[name].append(record)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise FlowError(path, f"cannot be read as CSV: {err}") from None


def read_rejected(path: Path) -> list[Rejected]:
    """The numbers known to be wrong (rejected.csv: number, why)."""
    if not path.is_file():
        return []
    rejected = []
    try:
        for line, raw in _csv_rows(path):
            number = (raw.get("number") or "").strip()
            if not number:
                raise FlowError(path, "a rejected entry has no 'number'", line=line)
            rejected.append(Rejected(number, (raw.get("why") or "").strip(), str(path), line))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise FlowError(path, f"cannot be read as CSV: {err}") from None
    return rejected


# The HSDS JSON form: nested objects (service_full.json, organization_full.json, ...), pages
# of them ({"contents": [...]}), or a whole package keyed by file name (tabular.json).

# parent table -> {key of a nested list or object: (child table, field in the child naming the parent)}
_CHILDREN: dict[str, dict[str, tuple[str, str]]] = {
    "organization": {"services": ("service", "organization_id"), "locations": ("location", "organization_id"),
                     "programs": ("program", "organization_id"), "contacts": ("contact", "organization_id"),
                     "phones": ("phone", "organization_id")},
    "service": {"phones": ("phone", "service_id"), "schedules": ("schedule", "service_id"),
                "service_areas": ("service_area", "service_id"),
                "service_at_locations": ("service_at_location", "service_id"),
                "languages": ("language", "service_id"), "contacts": ("contact", "service_id")},
    "service_at_location": {"contacts": ("contact", "service_at_location_id"),
                            "phones": ("phone", "service_at_location_id"),
                            "schedules": ("schedule", "service_at_location_id")},
    "location": {"languages": ("language", "location_id"), "addresses": ("address", "location_id"),
                 "contacts": ("contact", "location_id"), "phones": ("phone", "location_id"),
                 "schedules": ("schedule", "location_id")},
    "contact": {"phones": ("phone", "contact_id")},
    "phone": {"languages": ("language", "phone_id")},
}
# child object key -> (table, field in the parent that names it)
_PARENTS: dict[str, dict[str, tuple[str, str]]] = {
    "service": {"organization": ("organization", "organization_id"), "program": ("program", "program_id")},
    "service_at_location": {"service": ("service", "service_id"), "location": ("location", "location_id")},
    "attribute": {"taxonomy_term": ("taxonomy_term", "taxonomy_term_id")},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", "taxonomy_id")},
}


def _json_kind(obj: Mapping[str, Any], hint: str) -> str | None:
    """Which HSDS object a JSON object is: from the file name, else from its fields."""
    for name in sorted(BY_NAME, key=len, reverse=True):
        if hint.startswith(name) and not (name == "service" and hint.startswith("service_at_location")):
            return name
    if "location_type" in obj:
        return "location"
    if isinstance(obj.get("location"), dict) or isinstance(obj.get("service"), dict):
        return "service_at_location"
    if "status" in obj or "service_areas" in obj:
        return "service"
    if {"taxonomy_detail", "code", "parent_id", "term_uri", "taxonomy_id"} & set(obj):
        return "taxonomy_term"
    if {"services", "website", "locations", "programs", "parent_organization_id", "tax_id"} & set(obj):
        return "organization"
    if {"id", "name", "description"} <= set(obj):
        return "taxonomy" if {"version", "uri"} & set(obj) else "organization"
    return None


class _JsonReader:
    def __init__(self, problems: Problems, path: Path):
        self.problems, self.path = problems, path
        self.seen: dict[tuple[str, str], Record] = {}

    def add(self, table_name: str, obj: Any, where: str, links: Mapping[str, str]) -> Record | None:
        """One object and everything nested in it; the same id seen twice is one record."""
        if not isinstance(obj, dict):
            self.problems.warn(None, f"{where}: expected an object", path=str(self.path))
            return None
        table = BY_NAME[table_name]
        flat = {k: v for k, v in obj.items() if not isinstance(v, list | dict)}
        flat.update({k: v for k, v in links.items() if v})
        record = _record(table, flat, self.problems, str(self.path), None, f"{self.path.name}: {where}")
        if record is None:
            return None
        for key, (parent_table, parent_field) in _PARENTS.get(table_name, {}).items():
            if isinstance(obj.get(key), dict):
                # A program nested in a service belongs to the service's organization.
                inherited = {"organization_id": record.values.get("organization_id")} if key == "program" else {}
                parent = self.add(parent_table, obj[key], f"{where}.{key}", inherited)
                if parent is not None:
                    record.values[parent_field] = parent.id
        key = (table_name, record.id)
        if key in self.seen:
            known = self.seen[key].values
            for name, value in record.values.items():
                if known.get(name) is None and value is not None:
                    known[name] = value
        else:
            self.seen[key] = record
            self.problems.package.tables[table_name].append(record)
        for name, (child_table, child_field) in _CHILDREN.get(table_name, {}).items():
            for index, child in enumerate(obj.get(name) or []):
                self.add(child_table, child, f"{where}.{name}[{index}]", {child_field: record.id})
        for index, attribute in enumerate(obj.get("attributes") or []):
            if isinstance(attribute, dict):  # nested: it describes this object, whatever it says
                attribute = {**attribute, "link_id": record.id, "link_entity": table_name}
            self.add("attribute", attribute, f"{where}.attributes[{index}]", {})
        return record


def _read_json(path: Path, problems: Problems) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FlowError(path, f"cannot be read as JSON: {err}") from None
    reader = _JsonReader(problems, path)
    if isinstance(document, dict) and any(k.endswith(".csv") for k in document):
        unused = []
        for key, rows in document.items():
            table = BY_PATH.get(key) or BY_NAME.get(key.removesuffix(".csv"))
            if table is None:
                unused.append(key.removesuffix(".csv"))
                continue
            for index, row in enumerate(rows if isinstance(rows, list) else []):
                reader.add(table.name, row, f"{key}[{index}]", {})
        if unused:
            problems.package.notes.append(f"not read (this line does not use these HSDS tables): "
                                          f"{', '.join(sorted(unused))}")
        return
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        items, where = document["contents"], "contents"
    elif isinstance(document, list):
        items, where = document, ""
    else:
        items, where = [document], ""
    hint = path.stem.lower()
    for index, obj in enumerate(items):
        label = f"{where}[{index}]" if where or len(items) > 1 or isinstance(document, list) else "(top)"
        kind = _json_kind(obj, hint) if isinstance(obj, dict) else None
        if kind is None:
            problems.warn(None, f"{label}: not an HSDS object this line reads", path=str(path))
            continue
        reader.add(kind, obj, label, {})


# Checks across records: duplicate ids and references.


def _check_references(package: Package, problems: Problems) -> None:
    """Drop duplicate ids; skip each reference to a record that does not exist (a warning each)."""
    known: dict[str, set[str]] = {}
    for table in TABLES:
        kept, ids = [], set()
        for record in package.tables[table.name]:
            if record.id in ids:
                problems.warn(record, f"{table.name} id {record.id} is listed twice; the second was skipped")
                continue
            keep = True
            for item in table.fields:
                target = record.values.get(item.name)
                if item.ref and target is not None and target not in known.get(item.ref, set()):
                    what = "the row was skipped" if item.required else "the reference was skipped"
                    problems.warn(record, f"{table.name}.{item.name} {target} names no {item.ref} "
                                          f"in this package; {what}")
                    record.values[item.name] = None
                    keep = keep and not item.required
                elif item.ref and target is None and item.required:
                    problems.warn(record, f"{table.name} has no {item.name}, which HSDS requires; the row was skipped")
                    keep = False
            if table.name == "attribute" and keep:
                keep = _check_link(record, known, problems)
            if keep:
                ids.add(record.id)
                kept.append(record)
        package.tables[table.name] = kept
        known[table.name] = ids


def _check_link(record: Record, known: Mapping[str, set[str]], problems: Problems) -> bool:
    entity, target = record.values.get("link_entity"), record.values.get("link_id")
    if entity not in BY_NAME:
        problems.package.notes.append(f"{record.where}: attribute link_entity '{entity}' is not a table this "
                                      f"line reads; kept as given")
        return True
    if target not in known.get(entity, set()):
        problems.warn(record, f"attribute.link_id {target} names no {entity} in this package; the row was skipped")
        return False
    return True


def read_package(path: Path | str, *, strict: bool = False) -> Package:
    """Read an HSDS package: a folder (or its datapackage.json) of CSV files, or an HSDS JSON file."""
    path = Path(path)
    package = Package()
    problems = Problems(package, strict)
    if path.is_dir() or path.name == PACKAGE_FILE:
        folder = path if path.is_dir() else path.parent
        _read_csv_package(folder, problems)
        package.rejected = read_rejected(folder / REJECTED_FILE)
    elif path.suffix.lower() == ".json" and path.is_file():
        _read_json(path, problems)
    elif not path.exists():
        raise FlowError(path, "does not exist")
    else:
        raise FlowError(path, f"is neither a folder with {PACKAGE_FILE} nor an HSDS .json file")
    _check_references(package, problems)
    return package


def replaced_or_added(rows: Sequence[T], new: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Rows with new ones merged in: one with the same key replaces the old in its place, the
    others come after."""
    incoming = {key(r): r for r in new}
    return [incoming.pop(key(r), r) for r in rows] + list(incoming.values())


def merged_with(tables: Mapping[str, Sequence[Mapping[str, Any]]], package: Package) -> Package:
    """The rows already there with a package's rows added, by id (for `directory import --merge`)."""
    out = Package(rejected=list(package.rejected), warnings=list(package.warnings), notes=list(package.notes))
    for table in TABLES:
        there = [Record(table.name, dict(row), where=f"{table.name} in the database")
                 for row in tables.get(table.name, ())]
        out.tables[table.name] = replaced_or_added(there, package.tables[table.name], lambda r: r.id)
    return out


def fingerprint(folder: Path | str) -> str:
    """A hash of a package folder's files, to notice when data/ changed."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted([*folder.glob("*.csv"), *folder.glob("*.json")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# Writing.


def package_descriptor(tables: Iterable[Table] = TABLES) -> dict[str, Any]:
    """datapackage.json for the tables this line writes."""
    resources = []
    for table in tables:
        fields = []
        for item in table.fields:
            described: dict[str, Any] = {"name": item.name, "type": item.type}
            if item.format:
                described["format"] = item.format
            constraints: dict[str, Any] = {"required": item.required}
            if item.enum:
                constraints["enum"] = list(item.enum)
            if item.name == "id":
                constraints["unique"] = True
            described["constraints"] = constraints
            fields.append(described)
        schema: dict[str, Any] = {"fields": fields, "primaryKey": "id"}
        keys = [{"fields": f.name, "reference": {"resource": f.ref, "fields": "id"}} for f in table.fields if f.ref]
        if keys:
            schema["foreignKeys"] = keys
        resources.append({"name": table.name, "path": table.path, "format": "csv", "mediatype": "text/csv",
                          "encoding": "utf-8", "profile": "tabular-data-resource", "schema": schema})
    return {
        "name": "greater-hartford-help-line",
        "title": "Greater Hartford Help Line: resource directory",
        "description": "Human Services Data Specification (HSDS) 3.0 package. Only active services with an "
                       "assured_date and a source are sent to texters; see docs/directory.md.",
        "profile": "tabular-data-package",
        "version": HSDS_VERSION,
        "homepage": "https://docs.openreferral.org",
        "resources": resources,
    }


_PLAIN_NUMBER = re.compile(r"[+-]?[\d ().-]*")  # a phone number or a longitude: no formula in it


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet will not run: one starting with =, +, -, @, a tab or a return gets a
    leading apostrophe (a plain number such as +1 860... or -72.7 is left as it is)."""
    if cell and cell[0] in "=+-@\t\r" and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row] for row in rows)
    return out.getvalue()


def write_package(tables: Mapping[str, Sequence[Mapping[str, Any]]], rejected: Sequence[Rejected],
                  folder: Path | str) -> list[Path]:
    """Write a Tabular Data Package: datapackage.json, one CSV per table (all columns), rejected.csv."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        rows = [[format_value(row.get(name)) for name in table.names] for row in tables.get(table.name, ())]
        path = folder / table.path
        path.write_text(_csv_text(table.names, rows), encoding="utf-8")
        written.append(path)
    index = folder / PACKAGE_FILE
    index.write_text(json.dumps(package_descriptor(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(index)
    if rejected:
        path = folder / REJECTED_FILE
        path.write_text(_csv_text(("number", "why"), [(r.number, r.why) for r in rejected]), encoding="utf-8")
        written.append(path)
    return written


def as_json_records(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as an HSDS JSON object (empty fields left out), to check against the HSDS schemas."""
    return {f.name: json_value(f, row[f.name]) for f in table.fields if row.get(f.name) is not None}


def schema_problems(folder: Path | str, schema_dir: Path | str) -> list[str]:
    """Check every row of a package against the HSDS JSON schemas (and their tabular_required fields)."""
    import jsonschema
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    schema_dir = Path(schema_dir)
    schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in schema_dir.glob("*.json")}
    registry = Registry().with_resources((name, DRAFT202012.create_resource(schema))
                                         for name, schema in schemas.items())
    package = read_package(folder)
    problems = list(package.warnings)
    checker = jsonschema.FormatChecker()
    for table in TABLES:
        schema = schemas.get(f"{table.name}.json")
        if schema is None:
            problems.append(f"no HSDS schema for {table.name}")
            continue
        validator = jsonschema.Draft202012Validator(schema, registry=registry, format_checker=checker)
        required = set(schema.get("required", [])) | set(schema.get("tabular_required", []))
        for record in package.tables[table.name]:
            obj = as_json_records(table, record.values)
            problems.extend(f"{record.where}: {error.message}" for error in validator.iter_errors(obj))
            problems.extend(f"{record.where}: {table.name}.{name} is required and empty"
                            for name in sorted(required - set(obj)))
    return problems


# The `helpline directory` commands. The lead registers the group with main.add_command(directory_group).


def _database_url() -> str:
    import os

    from bot.app import default_database_url

    return os.environ.get("DATABASE_URL") or default_database_url()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable URL is shown as a placeholder
        return "the database"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def _default_data() -> Path:
    from bot import ROOT

    return ROOT / "data"


@click.group("directory", help="The resource directory as HSDS: import, export, check the dates.")
def directory_group() -> None:
    pass


@directory_group.command("import", help="Load an HSDS package (folder with datapackage.json, or HSDS JSON) "
                         "into the database named by DATABASE_URL, replacing the directory there "
                         "(with --merge: adding to it).")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The line's data/ (for its rejected numbers). Default: data/ here.")
@click.option("--force", is_flag=True, help="Import even if some pages would have no number to send.")
@click.option("--merge", is_flag=True, help="Add the package to the directory in the database instead of "
              "replacing it: rows with the same id are replaced, new ones added, the rest kept.")
def import_command(path: Path, data_dir: Path | None, force: bool, merge: bool) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from bot import directory

    data_dir = data_dir or _default_data()
    url = _database_url()
    try:
        package = read_package(path)
        engine = directory.make_engine(url)
        if merge:
            package = merged_with(directory.read_tables(engine, data_dir)[0], package)
        result = directory.import_package(engine, package, data_dir, force=force)
    except FlowError as err:
        _fail(str(err))
    except directory.ImportRefused as err:
        _fail(f"{path}: {err}")
    except SQLAlchemyError as err:
        _fail(f"{_safe_url(url)} cannot be written ({type(err).__name__})")
    for warning in package.warnings:
        click.echo(f"warning: {warning}")
    for note in package.notes:
        click.echo(f"note: {note}")
    click.echo(f"imported {path} into {_safe_url(url)}: {package.counts() or 'nothing'}")
    click.echo(f"{result.sendable} services can be sent to texters (active, assured, with a source and a phone).")
    click.echo(f"{len(package.warnings)} warning{'s' if len(package.warnings) != 1 else ''}.")
    if result.empty_categories:
        click.echo(f"warning: texters will get no numbers for {len(result.empty_categories)} categories the flows "
                   f"name ({', '.join(result.empty_categories)}): no active, assured service with a source and a "
                   "phone. To serve data/ again: helpline load")


@directory_group.command("export", help="Write the directory in the database as an HSDS Tabular Data Package "
                         "(datapackage.json, CSV files, rejected.csv) into a folder.")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Loaded first if the database has no directory yet. Default: data/ here.")
@click.option("--schemas", "schema_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Also check every row against the HSDS JSON schemas in this folder.")
def export_command(path: Path, data_dir: Path | None, schema_dir: Path | None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from bot import directory

    url = _database_url()
    try:
        engine = directory.make_engine(url)
        tables, rejected = directory.read_tables(engine, data_dir or _default_data())
        written = write_package(tables, rejected, path)
    except FlowError as err:
        _fail(str(err))
    except SQLAlchemyError as err:
        _fail(f"{_safe_url(url)} cannot be read ({type(err).__name__})")
    except OSError as err:
        _fail(f"{path} cannot be written: {err.strerror or err}")
    counts = ", ".join(plural(t.name, len(tables.get(t.name, ()))) for t in TABLES if tables.get(t.name))
    click.echo(f"wrote {len(written)} files to {path}: {counts}")
    if schema_dir is not None:
        problems = schema_problems(path, schema_dir)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if problems:
            raise SystemExit(1)
        click.echo(f"every row passes the HSDS schemas in {schema_dir}")


@directory_group.command("check", help="List services by the date a person last confirmed them; "
                         "flag those older than 180 days.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The package to check. Default: data/ here.")
@click.option("--database", "use_database", is_flag=True, help="Check the database (DATABASE_URL) instead.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Count ages from this day.")
@click.option("--days", default=180, show_default=True, help="How old a check may be.")
def check_command(data_dir: Path | None, use_database: bool, today: dt.datetime | None, days: int) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from bot import directory

    day = today.date() if today else dt.date.today()
    try:
        if use_database:
            url = _database_url()
            tables, _ = directory.read_tables(directory.make_engine(url), data_dir or _default_data())
        else:
            tables = {name: [r.values for r in records]
                      for name, records in read_package(data_dir or _default_data(), strict=True).tables.items()}
    except FlowError as err:
        _fail(str(err))
    except SQLAlchemyError as err:
        _fail(f"the database cannot be read ({type(err).__name__})")
    for line in [*directory.age_report(tables, day, days), *directory.need_report(tables)]:
        click.echo(line)
