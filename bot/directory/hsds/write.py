"""Writing the directory as an HSDS Tabular Data Package (CSV safe to open in a spreadsheet),
and checking a package against the HSDS JSON schemas."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.directory.hsds.read import read_package
from bot.directory.hsds.spec import (
    HSDS_VERSION,
    PACKAGE_FILE,
    REJECTED_FILE,
    TABLES,
    Rejected,
    Table,
    format_value,
    json_value,
)


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
