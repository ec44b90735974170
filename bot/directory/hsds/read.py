"""Reading an HSDS package: a Tabular Data Package folder (CSV) or HSDS JSON (nested objects,
pages, or a whole package), with every problem named by file, line and field; checks across
records (duplicate ids, references); merging one package into the directory's tables."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.directory.hsds.spec import (
    BY_NAME,
    BY_PATH,
    PACKAGE_FILE,
    REJECTED_FILE,
    TABLES,
    Package,
    Problems,
    Record,
    Rejected,
    T,
    Table,
    parse_value,
)
from bot.errors import FlowError


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
