"""The HSDS 3.0 tables this line keeps, their fields as the standard's datapackage.json declares
them, and values: from text (CSV) or JSON to Python, and back to text."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bot.errors import FlowError

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
