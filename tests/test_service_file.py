"""One service in one file: `helpline directory add`, as docs/directory.md shows it; import --merge; check by need."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.cli import main
from bot.directory.database import load_database, make_engine, read_data, read_tables, snapshot_from_data
from bot.directory.service_file import compile_rows, read_service
from bot.engine.conversation import reply_for
from bot.tables import load_flows
from bot.tables import places as town_tables
from bot.web.replies import Renderer

DATA = ROOT / "data"
DOC = ROOT / "docs" / "directory.md"
NOW = 1_764_604_800.0  # a Tuesday, 11:00 in Hartford


def doc_example() -> str:
    """The service file docs/directory.md shows, exactly as written there."""
    text = DOC.read_text(encoding="utf-8")
    return re.search(r"```yaml\n(# A walk-in clinic.*?)```", text, re.S).group(1)


@pytest.fixture
def data(tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    return copy


def add(data: Path, file: Path):
    return CliRunner().invoke(main, ["directory", "add", str(file), "--data", str(data)])


def test_the_example_in_the_docs_adds_a_local_service_a_texter_near_it_is_offered(data, tmp_path):
    file = tmp_path / "new-clinic.yaml"
    file.write_text(doc_example())
    assert "helpline directory add data/services/new-clinic.yaml" in DOC.read_text()
    result = add(data, file)
    assert result.exit_code == 0 and "added 'Example Walk-in Clinic, testing'" in result.output
    read_data(data)  # data/ still passes every rule the line starts with
    flows = load_flows(ROOT / "flows")
    renderer = Renderer(flows, snapshot_from_data(data))
    page = reply_for(flows, "health.testing", "en")
    near = "\n".join(renderer.render(page.__class__(**{**page.__dict__, "near": "West Hartford"}), NOW))
    assert "Near West Hartford:" in near
    assert "Walk-in clinic (Hartford): call 860-555-0142 (open now, walk-in)" in near
    far = "\n".join(renderer.render(page.__class__(**{**page.__dict__, "near": "Stamford"}), NOW))
    nowhere = "\n".join(renderer.render(page, NOW))
    assert "860-555-0142" not in far and "860-555-0142" not in nowhere  # only inside its area
    assert "Reply with your town or ZIP" in nowhere


def test_adding_the_same_file_again_changes_the_service_instead_of_adding_one(data, tmp_path):
    file = tmp_path / "clinic.yaml"
    file.write_text(doc_example())
    add(data, file)
    first = {p.name: p.read_text() for p in data.glob("*.csv")}
    file.write_text(doc_example().replace("860-555-0142", "860-555-0143"))
    result = add(data, file)
    assert result.exit_code == 0 and "changed 'Example Walk-in Clinic, testing'" in result.output
    phones = (data / "phones.csv").read_text()
    assert "860-555-0143" in phones and "860-555-0142" not in phones
    assert (data / "services.csv").read_text().count("Example Walk-in Clinic") == 1
    assert {p.name for p in data.glob("*.csv")} == set(first)


@pytest.mark.parametrize(("change", "problem"), [
    (("es: Clinica sin cita (Hartford)", "fr: Clinique"), r"new-clinic.yaml:\d+: 'label' needs both languages"),
    (("area: [Hartford, West Hartford]", "area: [Hartford, Springfield]"), "area 'Springfield' is not a Connecticut"),
    (("860-555-0142", "1-844-831-0924"), r"breaks a rule of data/ \(phones.csv\): .*rejected number"),
    (("categories: [health.testing]", "categories: [clinics]"), "'clinics' is not one of the line's category names"),
    (('zip: "06106"', "zip: 6106"), r"new-clinic.yaml:\d+: the address needs its ZIP code"),
    (("status: active", "status: maybe"), "'status' is 'maybe'"),
])
def test_a_mistake_in_a_service_file_names_file_line_and_problem_and_changes_nothing(data, tmp_path, change, problem):
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    file = tmp_path / "new-clinic.yaml"
    file.write_text(doc_example().replace(*change))
    result = add(data, file)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(problem, result.output), result.output
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()} == before


def test_every_service_file_in_data_matches_the_rows_in_data():
    """data/services/ is what was added; the CSV files must hold exactly those rows (no drift)."""
    package = read_data(DATA)
    tables = {name: [dict(r.values) for r in records] for name, records in package.tables.items()}
    files = sorted((DATA / "services").glob("*.yaml"))
    assert len(files) >= 8
    for file in files:
        for table, rows in compile_rows(read_service(file), tables, file).items():
            present = {r["id"]: r for r in tables[table]}
            for row in rows:
                assert row["id"] in present, f"{file.name}: a {table} row is missing from data/"
                differing = {k: v for k, v in row.items() if present[row["id"]].get(k) != v}
                assert not differing, f"{file.name}: {table} differs in data/: {differing}"


def test_import_merge_adds_a_package_and_keeps_the_directory(data, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'directory.db'}")
    engine = make_engine(f"sqlite:///{tmp_path / 'directory.db'}")
    load_database(engine, DATA)
    before = {r["name"] for r in read_tables(engine)[0]["service"]}
    file = tmp_path / "clinic.yaml"
    file.write_text(doc_example())
    assert add(data, file).exit_code == 0  # a package with one more service than the database holds
    result = CliRunner().invoke(main, ["directory", "import", str(data), "--merge", "--data", str(DATA)])
    assert result.exit_code == 0, result.output
    after = {r["name"] for r in read_tables(engine)[0]["service"]}
    assert after == before | {"Example Walk-in Clinic, testing"}
    assert len(read_tables(engine)[0]["service"]) == len(after)  # replaced in place, not doubled


def test_directory_check_lists_each_need_with_its_local_and_statewide_services():
    result = CliRunner().invoke(main, ["directory", "check", "--today", "2026-11-30"])
    assert result.exit_code == 0
    out = result.output.split("Each need,", 1)[1]
    testing = out.split("health.testing", 1)[1].split("\n  ", 1)[0] + out.split("health.testing", 1)[1]
    assert "local: Testing clinic (Hartford) (Hartford, West Hartford" in testing
    assert "statewide: State health testing" in testing
    assert "NOTHING TO SEND" not in out
    flows = load_flows(ROOT / "flows")
    for need in {c for node in flows.nodes.values() for c in node.resources}:
        assert f"  {need} (" in out


def test_a_shipped_need_has_a_verified_connecticut_service():
    """Each need the line offers names at least one Connecticut (statewide or local) service it may send."""
    snapshot = snapshot_from_data(DATA)
    for need in ("health.testing", "exit", "shelter", "counseling", "substance", "basic_needs", "legal",
                 "hotline.sexual_assault"):
        ct = [s for s in snapshot.by_category.get(need, ()) if s.tier() < 2]
        assert ct, need
    hartford = town_tables().by_name("Hartford")
    assert any(s.tier() == 0 for s in snapshot.services_for("shelter", near=hartford))
