"""HSDS 3.0 (the Human Services Data Specification), the directory's format: `spec` (tables,
fields, values), `read` (CSV packages and HSDS JSON, with problems named by file, line and
field), `write` (a Tabular Data Package a spreadsheet opens safely; the JSON schema check)."""

from bot.directory.hsds.read import fingerprint, merged_with, read_package, read_rejected, replaced_or_added
from bot.directory.hsds.spec import (
    BY_NAME,
    BY_PATH,
    HSDS_VERSION,
    PACKAGE_FILE,
    PHONE_TYPES,
    REJECTED_FILE,
    TABLES,
    Field,
    Package,
    Problems,
    Record,
    Rejected,
    Table,
    format_value,
    is_uuid,
    json_value,
    parse_value,
    plural,
)
from bot.directory.hsds.write import (
    as_json_records,
    package_descriptor,
    schema_problems,
    spreadsheet_safe,
    write_package,
)

__all__ = ["BY_NAME", "BY_PATH", "HSDS_VERSION", "PACKAGE_FILE", "PHONE_TYPES", "REJECTED_FILE", "TABLES", "Field",
           "Package", "Problems", "Record", "Rejected", "Table", "as_json_records", "fingerprint", "format_value",
           "is_uuid", "json_value", "merged_with", "package_descriptor", "parse_value", "plural", "read_package",
           "read_rejected", "replaced_or_added", "schema_problems", "spreadsheet_safe", "write_package"]
