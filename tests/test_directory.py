"""The directory: only verified numbers are sent, wrong ones are refused, loaded on first start."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot import ROOT
from bot.chat import Conversation
from bot.directory import BUILT_IN, read_directory, sendable, snapshot_of
from bot.flows import FlowError, load_flows
from bot.replies import Renderer
from bot.validate import every_reply

DATA = ROOT / "data"
ARTICLE_WRONG = ["1-844-831-0924", "844-831-0924", "1-800-203-1234"]


PHONE = re.compile(r"(?<![\w-])(?:1-)?\d{3}-\d{3}-\d{4}(?![\w-])"
                   r"|\b(?:call|text|TTY|al|to|a)\s+(?:or text\s+)?(?:[A-Z]+\s+(?:to|al)\s+)?(\d{3,6})(?![\d-])")


def digits(text: str) -> set[str]:
    """The phone numbers and short codes a message gives to call or text."""
    return {re.sub(r"\D", "", m[0])[-10:] for m in PHONE.finditer(text)}


def test_every_number_any_reply_can_send_is_a_verified_active_entry():
    organizations, rejected = read_directory(DATA)
    allowed, unconfirmed = set(), set()
    for org in organizations:
        for service in org.services:
            target = allowed if sendable(service) else unconfirmed
            target |= {re.sub(r"\D", "", p.number)[-10:] for p in service.phones}
    flows = load_flows(ROOT / "flows")
    renderer = Renderer(flows, snapshot_of(organizations, "data/"))
    sent = set()
    for reply in every_reply(flows):
        for body in renderer.messages([reply]):
            sent |= digits(body)
    assert sent, "replies do list numbers"
    assert sent <= allowed, f"numbers sent that are not verified: {sent - allowed}"
    assert not sent & (unconfirmed - allowed)
    assert not sent & {re.sub(r"\D", "", r.number)[-10:] for r in rejected}


def test_the_articles_wrong_numbers_never_reach_a_texter(app):
    texter = Conversation.start(app)
    seen = []
    for text in ["hi", "1", "0", "5", "2", "0", "3", "1", "0", "6", "hola", "1", "0", "5", "2"]:
        seen.extend(texter.send(text))
    joined = "\n".join(seen)
    for number in ARTICLE_WRONG:
        assert number not in joined
    assert "GEMS" not in joined and "Love146" not in joined


def test_every_active_assured_service_names_a_source():
    organizations, _ = read_directory(DATA)
    for org in organizations:
        for service in org.services:
            if sendable(service):
                assert service.source and service.assured_date


def test_a_rejected_number_in_data_is_refused_with_file_and_line(tmp_path):
    document = yaml.safe_load((DATA / "directory.yaml").read_text())
    document["organizations"][0]["services"][0]["phones"].append({"number": "1-844-831-0924", "type": "voice"})
    (tmp_path / "directory.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(FlowError, match=r"directory.yaml:\d+: .*rejected number"):
        read_directory(tmp_path)


def test_unconfirmed_services_are_kept_out_of_the_snapshot(tmp_path):
    document = yaml.safe_load((DATA / "directory.yaml").read_text())
    service = document["organizations"][1]["services"][0]
    service.pop("assured_date")
    (tmp_path / "directory.yaml").write_text(yaml.safe_dump(document))
    organizations, _ = read_directory(tmp_path)
    snapshot = snapshot_of(organizations, "test")
    ids = {s.id for services in snapshot.by_category.values() for s in services}
    assert service["id"] not in ids


def test_built_in_fallback_matches_verified_entries_in_data():
    organizations, _ = read_directory(DATA)
    verified = {s.id: s for o in organizations for s in o.services if sendable(s)}
    for services in BUILT_IN.by_category.values():
        for view in services:
            assert view.id in verified, f"built-in {view.id} is not a verified entry in data/"
            numbers = {(p.number, p.type) for p in verified[view.id].phones}
            assert {(p.number, p.type) for p in view.phones} <= numbers


def test_a_fresh_database_is_created_and_loaded_on_first_start(app, config):
    from sqlalchemy import create_engine, text

    engine = create_engine(config["DATABASE_URL"])
    with engine.connect() as connection:
        services = connection.execute(text("select count(*) from service")).scalar_one()
    assert services >= 15
    assert app.extensions["helpline"].directory.snapshot.source == "database"


def test_when_the_database_is_unreachable_the_line_still_answers_with_911(config, tmp_path):
    from bot import create_app

    (tmp_path / "not-a-dir").write_text("")
    app = create_app({**config, "DATABASE_URL": f"sqlite:///{tmp_path / 'not-a-dir' / 'x.db'}"})
    assert app.test_client().get("/healthz").status_code == 503
    messages = Conversation.start(app).send("help me now")
    assert "911" in "\n".join(messages)


def test_changed_data_reaches_running_workers_within_the_refresh_interval(config, tmp_path):
    from bot import create_app
    from bot.directory import load_database, make_engine

    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    app = create_app({**config, "DATA_DIR": str(data), "DIRECTORY_REFRESH_SECONDS": 0})
    texter = Conversation.start(app)
    assert "Crisis line" in "\n".join(texter.send("hotline"))
    text = (data / "directory.yaml").read_text().replace('"Crisis line"', '"Talk line"')
    (data / "directory.yaml").write_text(text)
    load_database(make_engine(config["DATABASE_URL"]), data, force=True)
    texter.send("hi")  # the check runs after this answer is sent
    assert "Talk line" in "\n".join(texter.send("hotline"))


def test_directory_file_errors_name_the_file_and_line(tmp_path):
    (tmp_path / "directory.yaml").write_text("spec_version: 1\norganizations:\n  - id: x\n    name: [unclosed\n")
    with pytest.raises(FlowError, match=r"directory.yaml:\d+: not valid YAML"):
        read_directory(tmp_path)


def test_data_folder_exists_in_repo():
    assert Path(DATA / "directory.yaml").is_file()
