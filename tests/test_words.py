"""Common words are never taken for typos of keyword words, and the line runs without the list."""

from __future__ import annotations

import logging
import subprocess

import pytest

from bot import ROOT, tables
from bot.engine import words
from bot.engine.matching import read
from bot.engine.text import normalize
from bot.tables import load_flows

SHIPPED = load_flows(ROOT / "flows").lexicon


def reading(text: str):
    return read(SHIPPED.correct(tuple(normalize(text).split())), SHIPPED)


@pytest.mark.parametrize(("text", "word"), [
    ("me acusaron de trata y yo era la victima", "acusaron"),  # not "abusaron" (they abused me)
    ("necesito contarle a alguien lo que me paso", "contarle"),  # not "cortarme" (cut myself)
    ("im dying of hunger lol", "dying"),  # not "doing"
    ("hotlne", "hotline"),  # a real typo is still mended
])
def test_real_words_stay_themselves_and_typos_are_still_mended(text, word):
    assert word in SHIPPED.correct(tuple(normalize(text).split()))


@pytest.mark.parametrize("text", [
    "ocupo un licenciado pa mi caso, me acusaron de trata y yo era la victima",
    "nesecito contarle a alguien lo q me paso de nina, nunca se lo he dicho a nadie",
])
def test_a_real_word_near_a_danger_word_raises_no_alarm(text):
    assert reading(text).danger is None


def test_the_list_holds_only_words_typo_correction_would_change():
    picked = words.pick(["abusaron", "cortarme", "clinic"], ["acusaron", "contarle", "hello", "clinic"])
    assert picked == ["acusaron", "contarle"]


def test_without_the_word_list_the_line_still_loads_and_says_so(monkeypatch, caplog):
    def fails(*args, **kwargs):
        raise subprocess.CalledProcessError(1, "python -m bot.engine.words")

    monkeypatch.setattr(tables, "built_once", fails)
    with caplog.at_level(logging.WARNING, logger="bot.tables"):
        flows = load_flows(ROOT / "flows")
    assert flows.lexicon.known == frozenset()
    assert flows.lexicon.correct(("hotlne",)) == ("hotline",)
    assert "no common word list (CalledProcessError)" in caplog.text
