"""HSDS in and out: the Open Referral example, the JSON form, the shipped package round trip, the CLI."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.cli.directory import directory_group
from bot.directory import hsds
from bot.directory.database import load_database, make_engine, read_data, read_snapshot, read_tables
from bot.errors import FlowError

DATA = ROOT / "data"
EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "hsds-example"  # see tests/fixtures/README.md
SCHEMAS = EXAMPLE / "schema"

# The four ids in the HSDS example that name records it does not have.
DANGLING = {
    ("locations.csv", "location.organization_id", "985e4a42-bd9f-4edc-911d-0243a4640aca"),
    ("contacts.csv", "contact.organization_id", "ae67a707-5893-4225-b0b1-320ab9cb596b"),
    ("contacts.csv", "contact.service_at_location_id", "93eaf18d-1cd2-4ec7-bffb-3c9172ee5070"),
    ("taxonomy_terms.csv", "taxonomy_term.taxonomy_id", "07ff6aee-a219-438c-b694-d2fcb6c5373b"),
}
WARNING = re.compile(r"(\w+\.csv) line (\d+): (\w+\.\w+) ([0-9a-f-]{36}) names no (\w+) in this package")


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'directory.db'}")
    return CliRunner()


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".csv", ".json")}


def test_the_hsds_example_reads_with_its_four_dangling_references_reported_one_by_one():
    package = hsds.read_package(EXAMPLE / "csv")
    found = {(m[1], m[3], m[4]) for m in map(WARNING.search, package.warnings) if m}
    assert len(package.warnings) == 4
    assert found == DANGLING
    assert all(" line 2: " in w and "the reference was skipped" in w for w in package.warnings)
    assert package.tables["location"][0].values["organization_id"] is None, "the dangling reference is skipped"
    assert [r.values["name"] for r in package.tables["service"]] == ["Community Counselling"]
    assert any("accessibility" in note for note in package.notes), "tables it does not keep are named"


def test_helpline_directory_import_of_the_example_warns_four_times_and_loads_it(runner, tmp_path):
    result = runner.invoke(directory_group, ["import", str(EXAMPLE / "csv"), "--force"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if WARNING.search(line)]
    assert len(warnings) == 4 and all(line.startswith("warning: ") for line in warnings)
    assert "4 warnings." in result.output and "Traceback" not in result.output
    assert "texters will get no numbers" in result.output, "it says the example has nothing the line can send"
    tables, _ = read_tables(make_engine(f"sqlite:///{tmp_path / 'directory.db'}"))
    assert [row["name"] for row in tables["service"]] == ["Community Counselling"]
    assert tables["contact"][0]["service_at_location_id"] is None


@pytest.mark.parametrize("name", ["tabular.json", "service_full.json", "organization_full.json",
                                  "service_at_location_full.json", "service_list.json", "location.json",
                                  "taxonomy_term.json", "taxonomy_list.json"])
def test_the_hsds_json_form_reads(name):
    package = hsds.read_package(EXAMPLE / name)
    assert any(package.tables.values())
    if name == "tabular.json":  # the same records as the CSV files, with the same four problems
        assert len(package.warnings) == 4
        assert {(m[3], m[4]) for m in map(re.compile(r"(\S+): (\S+)\[0\]: (\w+\.\w+) (\S+)").search,
                                          package.warnings) if m} == {(f, i) for _, f, i in DANGLING}
    else:  # nested objects name their parents by nesting: nothing dangles
        assert package.warnings == []
    if name == "service_full.json":
        service = package.tables["service"][0].values
        assert service["organization_id"] == package.tables["organization"][0].id
        phone = package.tables["phone"][0].values
        assert phone["service_id"] == service["id"] and phone["contact_id"], "one phone seen in two places"
        attribute = package.tables["attribute"][0].values
        assert (attribute["link_entity"], attribute["link_id"]) == ("service", service["id"])


def test_the_hsds_json_example_files_the_reader_handles_match_the_hsds_schemas():
    import jsonschema
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    schemas = {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources((n, DRAFT202012.create_resource(s)) for n, s in schemas.items())
    for name, schema in (("service_full.json", "service.json"), ("organization_full.json", "organization.json"),
                         ("location.json", "location.json")):
        validator = jsonschema.Draft202012Validator(schemas[schema], registry=registry)
        assert list(validator.iter_errors(json.loads((EXAMPLE / name).read_text()))) == []


def test_the_shipped_directory_exports_reimports_and_reexports_unchanged(runner, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    result = runner.invoke(directory_group, ["export", str(first)])  # a new database: data/ is loaded first
    assert result.exit_code == 0, result.output
    assert files(first) == files(DATA), "data/ is already in export form"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    result = runner.invoke(directory_group, ["import", str(first)])
    assert result.exit_code == 0 and "0 warnings." in result.output, result.output
    assert "texters will get no numbers" not in result.output
    result = runner.invoke(directory_group, ["export", str(second)])
    assert result.exit_code == 0, result.output
    assert files(second) == files(first)


def test_the_export_passes_the_hsds_schemas_and_required_fields(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    load_database(engine, DATA)
    hsds.write_package(*read_tables(engine), tmp_path / "out")
    assert hsds.schema_problems(tmp_path / "out", SCHEMAS) == []


def test_export_can_check_itself_against_the_hsds_schemas(runner, tmp_path):
    result = runner.invoke(directory_group, ["export", str(tmp_path / "out"), "--schemas", str(SCHEMAS)])
    assert result.exit_code == 0, result.output
    assert "every row passes the HSDS schemas" in result.output


def test_the_schema_check_finds_an_empty_required_field(tmp_path):
    shutil.copytree(DATA, tmp_path / "data")
    path = tmp_path / "data" / "organizations.csv"
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[3] = ""  # description, which HSDS requires
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    problems = hsds.schema_problems(tmp_path / "data", SCHEMAS)
    assert any("organizations.csv line 2" in p and "description" in p for p in problems), problems


def test_the_written_datapackage_declares_every_table_and_its_keys():
    descriptor = json.loads((DATA / "datapackage.json").read_text())
    assert descriptor["profile"] == "tabular-data-package"
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert set(resources) == {t.name for t in hsds.TABLES}
    service = resources["service"]["schema"]
    assert service["primaryKey"] == "id"
    assert {"fields": "organization_id", "reference": {"resource": "organization", "fields": "id"}} in \
        service["foreignKeys"]
    required = {f["name"] for f in service["fields"] if f["constraints"]["required"]}
    assert required == {"id", "organization_id", "name", "status"}
    for resource in descriptor["resources"]:
        header = (DATA / resource["path"]).read_text().splitlines()[0].split(",")
        assert header == [f["name"] for f in resource["schema"]["fields"]]


def test_a_bad_value_in_an_imported_package_is_a_warning_naming_file_and_line(tmp_path):
    shutil.copytree(DATA, tmp_path / "pkg")
    path = tmp_path / "pkg" / "services.csv"
    path.write_text(path.read_text().replace("2026-11-26", "26/11/2026", 1))
    package = hsds.read_package(tmp_path / "pkg")
    assert package.warnings == ["services.csv line 2: service.assured_date '26/11/2026' is not a date; write it "
                                "as YYYY-MM-DD; the value was skipped"]
    with pytest.raises(FlowError, match=r"services.csv:2: service.assured_date '26/11/2026' is not a date"):
        hsds.read_package(tmp_path / "pkg", strict=True)


def test_a_rejected_number_in_an_imported_package_is_skipped_with_a_warning(runner, tmp_path):
    shutil.copytree(DATA, tmp_path / "pkg")
    (tmp_path / "pkg" / "rejected.csv").unlink()  # the line's own list (data/rejected.csv) still applies
    path = tmp_path / "pkg" / "phones.csv"
    path.write_text(path.read_text().replace("1-888-373-7888", "1-844-831-0924"))
    result = runner.invoke(directory_group, ["import", str(tmp_path / "pkg")])
    assert result.exit_code == 0, result.output
    assert re.search(r"warning: phones.csv line \d+: phone 1-844-831-0924 is a rejected number "
                     r"\(rejected.csv:2\): .*; the phone was skipped", result.output)
    tables, _ = read_tables(make_engine(os.environ["DATABASE_URL"]))
    assert "1-844-831-0924" not in {p["number"] for p in tables["phone"]}


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    ("{not json", "cannot be read as JSON"),
])
def test_import_problems_are_plain_errors_without_a_traceback(runner, tmp_path, content, message):
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    result = runner.invoke(directory_group, ["import", str(path)])
    assert result.exit_code == 1
    assert f"error: {path}" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_a_package_folder_without_datapackage_json_is_refused_for_data_but_read_on_import(tmp_path):
    shutil.copytree(DATA, tmp_path / "pkg")
    (tmp_path / "pkg" / "datapackage.json").unlink()
    with pytest.raises(FlowError, match="datapackage.json: is missing"):
        hsds.read_package(tmp_path / "pkg", strict=True)
    package = hsds.read_package(tmp_path / "pkg")
    assert len(package.tables["service"]) > 20 and package.warnings == []


def test_every_directory_command_has_help(runner):
    for name, command in directory_group.commands.items():
        result = runner.invoke(directory_group, [name, "--help"])
        assert result.exit_code == 0 and command.help, name
    assert set(directory_group.commands) == {"import", "export", "check", "add"}


@pytest.mark.postgres
def test_the_round_trip_works_on_postgresql(tmp_path, postgres_url):
    engine = make_engine(postgres_url)
    try:
        load_database(engine, DATA, force=True)
        hsds.write_package(*read_tables(engine), tmp_path / "out")
    finally:
        engine.dispose()
    assert files(tmp_path / "out") == files(DATA)


def test_an_import_that_would_leave_a_page_without_numbers_is_refused_and_changes_nothing(runner, tmp_path):
    """An empty package once wiped the live directory: "Danger now" then listed no number."""
    before = tmp_path / "before"
    assert runner.invoke(directory_group, ["export", str(before)]).exit_code == 0
    empty = tmp_path / "empty.json"
    empty.write_text('{"resources": []}')
    result = runner.invoke(directory_group, ["import", str(empty)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {empty}: texters would get no numbers for" in result.output and "danger" in result.output
    after = tmp_path / "after"
    assert runner.invoke(directory_group, ["export", str(after)]).exit_code == 0
    assert files(after) == files(before)


@pytest.mark.parametrize("outside", ["../elsewhere/phones.csv", "/etc/passwd"])
def test_a_datapackage_path_outside_the_package_is_refused_and_nothing_is_read(runner, tmp_path, outside):
    shutil.copytree(DATA, tmp_path / "pkg")
    index = tmp_path / "pkg" / "datapackage.json"
    document = json.loads(index.read_text())
    document["resources"][0]["path"] = outside
    index.write_text(json.dumps(document))
    result = runner.invoke(directory_group, ["import", str(tmp_path / "pkg")])
    assert result.exit_code == 1 and "outside the package folder" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("label", "problem"), [
    ("Call 1-844-831-0924", "holds a number"),  # a rejected number, smuggled in a label
    ("=HYPERLINK(\"http://x\")", "runs as a formula"),
    ("@SUM(A1)", "runs as a formula"),
])
def test_a_label_with_a_number_or_a_formula_is_refused_in_data_and_never_sent_from_an_import(
        runner, tmp_path, label, problem):
    shutil.copytree(DATA, tmp_path / "pkg")
    edit = tmp_path / "pkg" / "services.csv"
    with edit.open(newline="") as source:
        rows = list(csv.DictReader(source))
    rows[0]["alternate_name"] = label
    with edit.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(FlowError, match=rf"services.csv:2: .*{problem}"):
        read_data(tmp_path / "pkg")
    result = runner.invoke(directory_group, ["import", str(tmp_path / "pkg"), "--force"])
    assert result.exit_code == 0, result.output
    engine = make_engine(os.environ["DATABASE_URL"])
    assert label not in {s.label["en"] for s in read_snapshot(engine).services}, "never sent to a texter"
    out = tmp_path / "out"
    assert runner.invoke(directory_group, ["export", str(out)]).exit_code == 0
    exported = (out / "services.csv").read_text()
    if label[0] in "=@":
        assert "'" + label.replace('"', '""') in exported and f",{label}" not in exported


def test_plain_numbers_are_exported_as_they_are():
    assert hsds.spreadsheet_safe("+1 860-555-0100") == "+1 860-555-0100"
    assert hsds.spreadsheet_safe("-72.68") == "-72.68"
    assert hsds.spreadsheet_safe("=1+1") == "'=1+1"
