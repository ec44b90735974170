"""Flows edited while the line runs: a new card word works within the refresh interval, without a
restart; a broken edit keeps the last good flows answering and /healthz says what is wrong."""

from __future__ import annotations

import shutil
import time

from bot import ROOT
from bot.app import create_app
from bot.cli.chat import Conversation

NEW_WORD = "  LUNA: {start: hotlines, lang: es, tag: luna-card}\n"


def line_on_a_copy(config, tmp_path, refresh: float):
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    app = create_app({**config, "FLOWS_DIR": str(folder), "DIRECTORY_REFRESH_SECONDS": refresh})
    return app, folder


def add_card_word(folder) -> None:
    campaigns = folder / "campaigns.yaml"
    text = campaigns.read_text(encoding="utf-8")
    campaigns.write_text(text.replace("campaigns:\n", "campaigns:\n" + NEW_WORD, 1), encoding="utf-8")


def test_a_card_word_added_while_the_line_runs_works_without_a_restart(config, tmp_path):
    app, folder = line_on_a_copy(config, tmp_path, refresh=0.2)
    first = Conversation.start(app, sender="+18605550801").send("luna")
    assert "Hola" not in first[0], "not a card word yet: the English welcome or 'didn't get that'"
    add_card_word(folder)
    deadline, n = time.monotonic() + 15, 0
    while time.monotonic() < deadline:  # the upkeep thread looks every 0.2 s here (60 s by default)
        n += 1
        reply = Conversation.start(app, sender=f"+1860555090{n % 10}{n // 10}").send("luna")
        if reply != first:
            break
        time.sleep(0.2)
    hotlines_es = app.extensions["helpline"].flows.nodes["hotlines"].say["es"]
    assert reply[0].startswith(hotlines_es.split("\n")[0]), reply


def test_a_broken_edit_keeps_the_last_good_flows_and_healthz_says_where(config, tmp_path):
    app, folder = line_on_a_copy(config, tmp_path, refresh=0)
    line, client = app.extensions["helpline"], app.test_client()
    good = line.flows
    law = folder / "law.yaml"
    kept = law.read_text(encoding="utf-8")
    law.write_text(kept.replace("nodes:", "nodes: [", 1), encoding="utf-8")
    line.database_jobs(time.time() + 60)  # later than any check the upkeep thread made meanwhile
    assert line.flows is good
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "flows not reloaded" in health.json["reason"] and "law.yaml" in health.json["reason"]
    assert "911" in Conversation.start(app, sender="+18605550802").send("hi")[0], "still answering"
    law.write_text(kept, encoding="utf-8")
    line.database_jobs(time.time() + 60)  # later than any check the upkeep thread made meanwhile
    health = client.get("/healthz")
    assert health.status_code == 200, health.json
