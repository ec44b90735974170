"""The directory: only verified numbers are sent, wrong ones refused, open-now and near-you in both languages."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot import ROOT
from bot.cli.chat import Conversation
from bot.cli.directory import directory_group
from bot.cli.validate import every_reply
from bot.clock import Clock
from bot.directory.database import load_database, make_engine, read_data, snapshot_from_data
from bot.directory.facts import service_facts
from bot.directory.hours import Hours
from bot.directory.hours import open_status as hours_open_status
from bot.directory.snapshot import BUILT_IN, Area, PhoneView, ServiceView, Snapshot
from bot.engine import places
from bot.engine.conversation import Reply, State, reply_for, step
from bot.errors import FlowError
from bot.tables import context, load_flows
from bot.tables import places as town_tables
from bot.web.replies import Renderer, service_line

CONTEXT = context()  # the place resolver step needs

DATA = ROOT / "data"
ARTICLE_WRONG = ["1-844-831-0924", "844-831-0924"]
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = dt.date(2026, 11, 25)


@dataclass(frozen=True)
class PlacedReply(Reply):
    """A reply that carries the town the texter named (what the engine's Reply.near will be)."""

    near: str | None = None


PHONE = re.compile(r"(?<![\w-])(?:1-)?\d{3}-\d{3}-\d{4}(?![\w-])"
                   r"|\b(?:call|text|TTY|al|to|a)\s+(?:or text\s+)?(?:[A-Z]+\s+(?:to|al)\s+)?(\d{3,6})(?![\d-])"
                   r"(?!\s+(?:days|d\u00edas))")  # "up to 364 days" is a sentence, not a number to call


def digits(text: str) -> set[str]:
    """The phone numbers and short codes a message gives to call or text."""
    return {re.sub(r"\D", "", m[0])[-10:] for m in PHONE.finditer(text)}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), NEW_YORK)


HARTFORD = Clock(NEW_YORK)  # the line's wall time, as the renderer reads it


def open_status(hours, moment: dt.datetime):
    return hours_open_status(hours, HARTFORD.local(moment))


def tables_of(data_dir: Path) -> dict:
    package = read_data(data_dir)
    return {name: package.rows(name) for name in package.tables}


def copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def edit_rows(path: Path, change) -> None:
    """Rewrite a CSV file, letting `change` edit (or extend) its list of row dicts."""
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    change(rows)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def service_id(data_dir: Path, name: str) -> str:
    with (data_dir / "services.csv").open(newline="") as fh:
        return next(r["id"] for r in csv.DictReader(fh) if r["name"] == name)


@pytest.fixture(scope="module")
def flows():
    return load_flows(ROOT / "flows")


def test_every_number_any_reply_can_send_is_a_verified_active_entry_with_or_without_a_place(flows):
    tables = tables_of(DATA)
    allowed, not_sent = set(), set()
    for facts in service_facts(tables):
        target = allowed if facts.why_not_sent() is None else not_sent
        target |= {re.sub(r"\D", "", p["number"])[-10:] for p in facts.phones}
    rejected = {re.sub(r"\D", "", r.number)[-10:] for r in read_data(DATA).rejected}
    renderer = Renderer(flows, snapshot_from_data(DATA))
    replies = every_reply(flows)
    towns = [None] + [t.name for t in town_tables().all()]
    sent, walked = set(), 0
    for town in towns:
        for reply in replies if town is None else [r for r in replies if r.resources]:
            placed = PlacedReply(*(getattr(reply, f) for f in ("node", "lang", "text", "resources", "menu")),
                                 near=town)
            for body in renderer.messages([placed], now=at(WEDNESDAY, 12)):
                sent |= digits(body)
                walked += 1
    assert walked > 10_000 and sent, "replies do list numbers"
    assert sent <= allowed, f"numbers sent that are not verified: {sent - allowed}"
    assert not sent & (not_sent - allowed)
    assert not sent & rejected


def test_the_articles_wrong_numbers_never_reach_a_texter(app):
    texter = Conversation.start(app)
    seen = []
    for text in ["hi", "1", "0", "5", "2", "0", "3", "1", "0", "6", "hola", "1", "0", "5", "2"]:
        seen.extend(texter.send(text))
    joined = "\n".join(seen)
    for number in ARTICLE_WRONG:
        assert number not in joined
    assert "GEMS" not in joined and "Love146" not in joined


def test_every_active_service_shipped_has_an_assured_date_and_a_source():
    active = [f for f in service_facts(tables_of(DATA)) if f.row["status"] == "active"]
    assert len(active) >= 15
    for facts in active:
        assert facts.row["assured_date"] and facts.record.get("source"), facts.row["name"]
        assert facts.why_not_sent() is None


def test_an_active_service_without_an_assured_date_is_refused_with_file_and_line(tmp_path):
    data = copy_data(tmp_path)
    edit_rows(data / "services.csv", lambda rows: rows[1].update(assured_date=""))
    with pytest.raises(FlowError, match=r"services.csv:3: service 'National Human Trafficking Hotline' is active "
                                        r"but has no assured_date"):
        read_data(data)


def test_a_rejected_number_in_data_is_refused_with_file_and_line(tmp_path):
    data = copy_data(tmp_path)
    edit_rows(data / "phones.csv", lambda rows: rows.append({**rows[0], "id": "3b0c9a1e-5b1e-4a55-9d84-1f7f2f4e0001",
                                                              "number": "1-844-831-0924"}))
    with pytest.raises(FlowError, match=r"phones.csv:\d+: phone 1-844-831-0924 is a rejected number "
                                        r"\(rejected.csv:2\): not found on any source"):
        read_data(data)


@pytest.mark.parametrize(("file", "change", "message"), [
    ("services.csv", lambda rows: rows[0].update(status="open"), r"services.csv:2: service.status 'open' is not one"),
    ("schedules.csv", lambda rows: rows[0].update(opens_at="9am"), r"schedules.csv:2: schedule.opens_at '9am' is not"),
    ("phones.csv", lambda rows: rows[0].update(type="tty"), r"phones.csv:2: phone type 'tty'; use one of"),
    ("phones.csv", lambda rows: rows[0].update(service_id="6f1c9a52-0000-4b5f-9d1e-2b8a7c4d5e60"),
     r"phones.csv:2: phone.service_id 6f1c9a52-0000-4b5f-9d1e-2b8a7c4d5e60 names no service"),
    ("service_areas.csv", lambda rows: rows.pop(0), r"services.csv:2: service '911' has no service area"),
    ("attributes.csv", lambda rows: rows.pop(0), r"services.csv:2: service '911' needs a short neutral label"),
    ("phones.csv", lambda rows: rows[0].update(id="phone-911"), r"phones.csv:2: phone id 'phone-911' is not a UUID"),
])
def test_data_errors_name_the_file_the_line_and_the_problem(tmp_path, file, change, message):
    data = copy_data(tmp_path)
    edit_rows(data / file, change)
    with pytest.raises(FlowError, match=message):
        read_data(data)


def test_an_inactive_service_leaves_every_category(tmp_path):
    data = copy_data(tmp_path)
    edit_rows(data / "services.csv", lambda rows: rows[2].update(status="temporarily closed"))
    assert "Crisis line" in {s.label["en"] for s in snapshot_from_data(DATA).services}
    assert "Crisis line" not in {s.label["en"] for s in snapshot_from_data(data).services}


def test_built_in_fallback_matches_verified_entries_in_data():
    verified = {f.row["id"]: f for f in service_facts(tables_of(DATA)) if f.why_not_sent() is None}
    for services in BUILT_IN.by_category.values():
        for view in services:
            assert view.id in verified, f"built-in {view.id} is not a verified entry in data/"
            numbers = {(p["number"], p["type"]) for p in verified[view.id].phones}
            assert {(p.number, p.type) for p in view.phones} <= numbers
            assert view.label == {"en": verified[view.id].label_en, "es": verified[view.id].record["label_es"]}


def test_a_fresh_database_is_created_and_loaded_on_first_start(app, config):
    from sqlalchemy import create_engine, text

    engine = create_engine(config["DATABASE_URL"])
    with engine.connect() as connection:
        services = connection.execute(text("select count(*) from service where status = 'active'")).scalar_one()
    assert services >= 15
    assert app.extensions["helpline"].directory.snapshot.source == "database"


def test_when_the_database_is_unreachable_the_line_still_answers_with_911(config, tmp_path):
    from bot.app import create_app

    (tmp_path / "not-a-dir").write_text("")
    app = create_app({**config, "DATABASE_URL": f"sqlite:///{tmp_path / 'not-a-dir' / 'x.db'}"})
    assert app.test_client().get("/healthz").status_code == 503
    messages = Conversation.start(app).send("help me now")
    assert "911" in "\n".join(messages)


def test_changed_data_reaches_running_workers_within_the_refresh_interval(config, tmp_path):
    from bot.app import create_app

    data = copy_data(tmp_path)
    app = create_app({**config, "DATA_DIR": str(data), "DIRECTORY_REFRESH_SECONDS": 0})
    texter = Conversation.start(app)
    assert "Crisis line" in "\n".join(texter.send("hotline"))
    edit_rows(data / "services.csv", lambda rows: rows[2].update(alternate_name="Talk line"))
    load_database(make_engine(config["DATABASE_URL"]), data, force=True)
    texter.send("hi")  # the check runs on the upkeep thread, woken after this answer is sent
    deadline = time.monotonic() + 10
    while "Talk line" not in "\n".join(texter.send("hotline")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Talk line" in "\n".join(texter.send("hotline"))


def test_the_data_folder_is_an_hsds_package_and_the_yaml_is_gone():
    assert (DATA / "datapackage.json").is_file() and (DATA / "rejected.csv").is_file()
    assert not (DATA / "directory.yaml").exists()


# Open now, with a fixed clock, in both languages.

WEEKDAYS_9_TO_5 = (Hours(frozenset(range(5)), 9 * 60, 17 * 60),)


@pytest.mark.parametrize(("moment", "kind", "when"), [
    (at(WEDNESDAY, 10), "open", at(WEDNESDAY, 17)),
    (at(WEDNESDAY, 8, 59), "opens", at(WEDNESDAY, 9)),
    (at(WEDNESDAY, 17), "opens", at(WEDNESDAY + dt.timedelta(days=1), 9)),
    (at(WEDNESDAY + dt.timedelta(days=3), 12), "opens", at(WEDNESDAY + dt.timedelta(days=5), 9)),
])
def test_open_status_of_weekday_hours(moment, kind, when):
    status = open_status(WEEKDAYS_9_TO_5, moment)
    assert (status.kind, status.at) == (kind, when.replace(tzinfo=None))


def test_open_status_knows_24_7_overnight_hours_dates_and_time_zones():
    assert open_status((Hours(frozenset(range(7)), 0, 24 * 60),), at(WEDNESDAY, 3)).kind == "24/7"
    nights = (Hours(frozenset({4, 5}), 20 * 60, 6 * 60),)  # Friday and Saturday, 8pm to 6am
    saturday = WEDNESDAY + dt.timedelta(days=3)
    assert open_status(nights, at(saturday, 2)).kind == "open"
    assert open_status(nights, at(saturday, 7)).at == dt.datetime.combine(saturday, dt.time(20))
    expired = (Hours(frozenset(range(7)), 9 * 60, 17 * 60, valid_to=WEDNESDAY - dt.timedelta(days=1)),)
    assert open_status(expired, at(WEDNESDAY, 10)) is None
    utc = dt.datetime(2026, 11, 25, 15, 30, tzinfo=dt.UTC)  # 10:30 in Hartford
    assert open_status(WEEKDAYS_9_TO_5, utc).kind == "open"
    assert open_status(WEEKDAYS_9_TO_5, dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)).kind == "opens"
    assert open_status((), at(WEDNESDAY, 10)) is None


@pytest.fixture
def data_with_clinic_hours(tmp_path):
    """data/ where the state testing line has (made-up) weekday hours, 9 to 5."""
    data = copy_data(tmp_path)
    dph = service_id(data, "CT DPH STD Control Program")
    edit_rows(data / "schedules.csv", lambda rows: rows.append(
        {**{k: "" for k in rows[0]}, "id": "2f4b7a9e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "service_id": dph,
         "freq": "WEEKLY", "byday": "MO,TU,WE,TH,FR", "opens_at": "09:00", "closes_at": "17:00"}))
    return data


@pytest.mark.parametrize(("moment", "en", "es"), [
    (at(WEDNESDAY, 10), "(open now, private)", "(abierto ahora, confidencial)"),
    (at(WEDNESDAY, 7, 30), "(opens 9am, private)", "(abre hoy 9:00, confidencial)"),
    (at(WEDNESDAY, 18), "(opens Thu 9am, private)", "(abre el jueves 9:00, confidencial)"),
    (at(WEDNESDAY + dt.timedelta(days=3), 11), "(opens Mon 9am, private)", "(abre el lunes 9:00, confidencial)"),
])
def test_a_reply_says_open_now_or_when_it_next_opens_in_both_languages(flows, data_with_clinic_hours, moment, en, es):
    renderer = Renderer(flows, snapshot_from_data(data_with_clinic_hours))
    english = "\n".join(renderer.messages([reply_for(flows, "health.testing", "en")], now=moment))
    spanish = "\n".join(renderer.messages([reply_for(flows, "health.testing", "es")], now=moment))
    assert f"State health testing: call 860-509-7920 {en}" in english
    assert f"Pruebas de salud del estado: llama al 860-509-7920 {es}" in spanish


def test_open_now_changes_with_the_minute_not_with_each_text(flows, data_with_clinic_hours):
    renderer = Renderer(flows, snapshot_from_data(data_with_clinic_hours))
    reply = reply_for(flows, "health.testing", "en")
    assert "opens 9am" in renderer.messages([reply], now=at(WEDNESDAY, 8, 59))[0]
    assert "opens 9am" in renderer.messages([reply], now=at(WEDNESDAY, 8, 59).replace(second=40))[0]
    assert "open now" in renderer.messages([reply], now=at(WEDNESDAY, 9))[0]
    assert renderer._render.cache_info().hits == 1


def test_24_7_lines_say_so_in_both_languages(flows):
    renderer = Renderer(flows, snapshot_from_data(DATA))
    english = "\n".join(renderer.messages([reply_for(flows, "hotlines", "en")], now=at(WEDNESDAY, 3)))
    spanish = "\n".join(renderer.messages([reply_for(flows, "hotlines", "es")], now=at(WEDNESDAY, 3)))
    assert "Crisis line: call or text 988 (24/7, free)" in english
    assert "Apoyo en crisis: llama o escribe al 988 (24/7, gratis)" in spanish  # Spanish there is not confirmed


def test_a_service_line_shows_its_hours_and_the_one_feature_that_matters_most():
    service = ServiceView("x", {"en": "Clinic", "es": "Clínica"}, (PhoneView("860-555-0100", "voice"),),
                          features=("free", "confidential", "no_id", "walk_in", "spanish"), hours=WEEKDAYS_9_TO_5)
    strings = load_flows(ROOT / "flows").strings
    english = service_line(service, "en", strings, HARTFORD.local(at(WEDNESDAY, 10)))
    spanish = service_line(service, "es", strings, HARTFORD.local(at(WEDNESDAY, 10)))
    assert english == "Clinic: call 860-555-0100 (open now, free)"
    assert spanish == "Clínica: llama al 860-555-0100 (abierto ahora, en español)"


# Near the texter: the town or ZIP they name selects and orders services; it is never kept.


def test_services_near_a_town_come_local_first_then_statewide_then_national(flows):
    """A town's own service is offered only to someone who named a place inside its area."""
    snapshot = snapshot_from_data(DATA)
    names = [s.label["en"] for s in snapshot.services_for("report")]
    assert names == ["National hotline", "State line for under-18s (DCF)"]
    near = [s.label["en"] for s in snapshot.services_for("report", near=town_tables().resolve("west hartfrod"))]
    assert near == ["West Hartford Police (non-emergency)", "State line for under-18s (DCF)", "National hotline"]
    far = [s.label["en"] for s in snapshot.services_for("report", near=town_tables().resolve("06901"))]  # Stamford
    assert far == ["State line for under-18s (DCF)", "National hotline"]


@pytest.mark.parametrize(("lang", "text", "first", "absent_far_away"), [
    ("en", "im near w htfd", "West Hartford Police (non-emergency): call 860-523-5203",
     "West Hartford Police"),
    ("es", "estoy cerca del 06119", "Policía de West Hartford (no emergencias): llama al 860-523-5203",
     "Policía de West Hartford"),
])
def test_a_town_or_zip_the_texter_names_selects_services_in_both_languages(flows, lang, text, first,
                                                                           absent_far_away):
    renderer = Renderer(flows, snapshot_from_data(DATA))
    base = reply_for(flows, "report.how", lang)
    fields = [getattr(base, f) for f in ("node", "lang", "text", "resources", "menu")]
    near = town_tables().resolve(text)
    assert near.name == "West Hartford"
    lines = "\n".join(renderer.messages([PlacedReply(*fields, near=near.name)], now=at(WEDNESDAY, 12))).splitlines()
    numbers = [line for line in lines if ": " in line and any(ch.isdigit() for ch in line)]
    assert numbers[0] == first
    far = "\n".join(renderer.messages([PlacedReply(*fields, near="Norwich")], now=at(WEDNESDAY, 12)))
    assert absent_far_away not in far and "1-800-842-2288" in far


def test_nearest_local_services_come_first():
    def clinic(name, town):
        place = town_tables().by_name(town)
        return ServiceView(name, {"en": name, "es": name}, (PhoneView("860-555-0100", "voice"),),
                           ("health.testing",), areas=(Area(places.key(town), "town"),) if town else (),
                           points=((place.lat, place.lon),))

    hartford = clinic("hartford", "Hartford")
    new_britain = clinic("new britain", "New Britain")
    national = ServiceView("national", {"en": "n", "es": "n"}, (PhoneView("988", "voice"),), ("health.testing",),
                           areas=(Area("united states", "nation"),))
    statewide = ServiceView("state", {"en": "s", "es": "s"}, (PhoneView("211", "voice"),), ("health.testing",),
                            areas=(Area("connecticut", "state"),))
    snapshot = Snapshot({"health.testing": (national, statewide, new_britain, hartford)}, "test")
    order = lambda town: [s.id for s in snapshot.services_for("health.testing", near=town_tables().by_name(town))]  # noqa: E731
    assert order("Hartford") == ["hartford", "state", "national"]
    assert order("New Britain") == ["new britain", "state", "national"]
    hartford_wide = ServiceView("hartford", hartford.label, hartford.phones, hartford.categories,
                                areas=(Area("hartford county", "county"),), points=hartford.points)
    snapshot = Snapshot({"health.testing": (national, hartford_wide, new_britain, statewide)}, "test")
    assert order("New Britain") == ["new britain", "hartford", "state", "national"]
    assert order("West Hartford") == ["hartford", "state", "national"]
    assert order("Stamford") == ["state", "national"]
    only_local = Snapshot({"health.testing": (new_britain, hartford)}, "test")
    far = only_local.services_for("health.testing", near=town_tables().by_name("Stamford"))
    assert far == (), "a town's service is never offered as local far from it (directory check flags such a need)"


def test_the_place_is_used_for_one_reply_and_never_kept_or_logged(flows, caplog):
    caplog.set_level(logging.DEBUG)
    renderer = Renderer(flows, snapshot_from_data(DATA))
    base = reply_for(flows, "report.how", "en")
    placed = PlacedReply(*(getattr(base, f) for f in ("node", "lang", "text", "resources", "menu")),
                         near="Wethersfield")
    before = renderer._render.cache_info().currsize
    renderer.messages([placed], now=at(WEDNESDAY, 12))
    assert renderer._render.cache_info().currsize == before, "a reply with a place is not cached"
    assert "Wethersfield" not in caplog.text


# Dates: how long ago a person confirmed each service.


def test_check_lists_services_by_age_and_flags_those_older_than_180_days(tmp_path):
    data = copy_data(tmp_path)
    edit_rows(data / "services.csv", lambda rows: rows[1].update(assured_date="2026-03-01"))
    result = CliRunner().invoke(directory_group, ["check", "--data", str(data), "--today", "2026-11-26"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    dated = [line for line in lines if re.match(r"\s+\d{4}-\d\d-\d\d", line)]
    assert dated[0].split()[:3] == ["2026-03-01", "270", "days"]
    assert "National hotline" in dated[0] and "OLDER THAN 180 DAYS" in dated[0]
    assert not any("OLDER" in line for line in dated[1:])
    assert any("1 older than 180 days" in line and "sent to texters" in line for line in lines)
    assert any("Interval House (Hartford) line, English" in line for line in lines), "unconfirmed ones are listed"


def test_startup_warns_about_services_not_confirmed_for_180_days(config, tmp_path, caplog):
    from bot.app import create_app

    data = copy_data(tmp_path)
    edit_rows(data / "services.csv", lambda rows: rows[1].update(assured_date="2020-01-01"))
    with caplog.at_level(logging.WARNING, logger="bot.directory"):
        create_app({**config, "DATA_DIR": str(data)})
    age = (dt.date.today() - dt.date(2020, 1, 1)).days
    assert f"National Human Trafficking Hotline ({age} days)" in caplog.text
    assert "helpline directory check" in caplog.text


def test_a_broken_edit_of_data_keeps_the_last_good_directory_and_says_503(config, tmp_path):
    from bot.app import create_app

    data = copy_data(tmp_path)
    create_app({**config, "DATA_DIR": str(data)})  # the database holds the good directory
    phones = data / "phones.csv"
    phones.write_text(phones.read_text().replace("1-888-373-7888", "1-844-831-0924", 1))  # a rejected number
    app = create_app({**config, "DATA_DIR": str(data)})
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and "data/ not loaded" in health.get_json()["reason"]
    assert "1-888-373-7888" in "\n".join(Conversation.start(app).send("hotline"))


def test_a_broken_data_folder_on_a_new_database_stops_startup_naming_the_file(config, tmp_path):
    from bot.app import create_app

    data = copy_data(tmp_path)
    phones = data / "phones.csv"
    phones.write_text(phones.read_text().replace("1-888-373-7888", "1-844-831-0924", 1))
    with pytest.raises(FlowError, match="phones.csv"):
        create_app({**config, "DATA_DIR": str(data)})


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("place", ["Hartford", "06051", "West Hartford", "06901"])
def test_no_page_answers_near_a_place_and_asks_for_the_place_again(flows, lang, place):
    """Every page that lists services, given a town or a ZIP code: a "near" or "nothing near"
    line, never the request for a town; and no page asks for one unless it has local services."""
    renderer = Renderer(flows, snapshot_from_data(DATA))
    snapshot = snapshot_from_data(DATA)
    ask, near_you = flows.strings["ask_place"][lang], flows.strings["near_you"][lang].split("{")[0]
    no_local = flows.strings["no_local"][lang].split("{")[0]
    now = at(WEDNESDAY, 12)
    for node in (n for n in flows.nodes.values() if n.resources):
        state = State(node.id, lang, int(now.timestamp() // 60))
        _, replies = step(state, place, flows, CONTEXT, now.timestamp())
        text = "\n".join(renderer.messages(replies, now))
        assert replies[0].near and replies[0].node == node.id, (node.id, place)
        assert ask not in text, (node.id, place)
        assert (near_you in text) != (no_local in text), (node.id, place)
        plain = "\n".join(renderer.messages([reply_for(flows, node.id, lang)], now))
        assert (ask in plain) == snapshot.has_local(node.resources), node.id
