"""A language is data: a line in Portuguese and English, from a small fixture folder and no code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import ROOT
from bot.app import create_app
from bot.cli.chat import Conversation
from bot.engine.conversation import step
from bot.errors import FlowError
from bot.tables import context, load_flows

LINE = Path(__file__).resolve().parent / "fixtures" / "portuguese-line"
NOW = 1_800_000_000.0


def test_the_shipped_line_lists_its_languages_in_the_flows():
    assert load_flows(ROOT / "flows").languages == ("en", "es")


def test_a_conversation_in_a_language_the_code_never_names():
    flows, places = load_flows(LINE), context()
    state, seen = None, []
    for text in ("oi", "1", "socorro", "english", "menu", "portugues", "preciso de um medico", "STOP"):
        state, replies = step(state, text, flows, places, NOW)
        seen.append([(reply.node, reply.lang) for reply in replies])
    assert seen == [
        [("welcome", "pt")],  # the first language of the list, and Portuguese words
        [("saude", "pt")],  # a menu number
        [("danger", "pt")],  # a danger word of the Portuguese table
        [("danger", "en")],  # a switch word: the page stays, in English
        [("welcome", "en")],
        [("welcome", "pt")],
        [("saude", "pt")],  # a topic, through the Portuguese stemmer
        [],  # opt-out: no answer
    ]
    assert state is None


def test_the_webhook_answers_in_it_and_the_danger_page_is_always_answered(config):
    app = create_app({**config, "FLOWS_DIR": str(LINE)})
    texter = Conversation.start(app, sender="+18605550701")
    welcome = "Oi. Ajuda gratuita e privada. Perigo? Ligue 911. English: ENGLISH\n1 Saúde\n2 Perigo agora"
    assert texter.send("oi") == [welcome]
    assert texter.send("socorro")[0].startswith("Ligue 911 agora se puder.")
    assert app.extensions["helpline"].flows.always_answered == {"danger"}


def test_a_page_without_a_text_in_one_of_the_languages_stops_the_flows_loading(tmp_path):
    folder = tmp_path / "line"
    shutil.copytree(LINE, folder)
    page = folder / "saude.yaml"
    page.write_text(page.read_text(encoding="utf-8").replace('      en: "Free testing and care, no judgment."\n', ""),
                    encoding="utf-8")
    with pytest.raises(FlowError, match="saude.yaml.*node 'saude': say has no 'en' text"):
        load_flows(folder)


def test_a_language_without_a_keyword_table_stops_the_flows_loading(tmp_path):
    folder = tmp_path / "line"
    shutil.copytree(LINE, folder)
    (folder / "keywords" / "pt.yaml").unlink()
    with pytest.raises(FlowError, match="no keyword table for pt"):
        load_flows(folder)
