"""bot.evaluate: the dev set's shape, the scoring rules, and the matching targets of issue 3."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bot import ROOT, directory
from bot.engine.conversation import step
from bot.evaluate import DEFAULT_FILES, NOW, Case, Result, is_right, load_cases, main, matches, run, score
from bot.tables import context, load_flows
from bot.web.replies import Renderer

CONTEXT = context()  # the place resolver step needs

LABELS = (
    "hotlines", "out.exit", "out.shelter", "out.needs", "out.substance", "out.counseling",
    "health", "health.young", "law", "law.vacate", "law.help", "report", "report.signs", "report.how",
    "danger", "danger.selfharm", "danger.assault", "danger.child", "welcome",
)


@pytest.fixture(scope="module")
def flows():
    return load_flows(ROOT / "flows")


@pytest.fixture(scope="module")
def cases():
    return [case for path in DEFAULT_FILES for case in load_cases(path)]


# (a) the dev set


def test_dev_set_is_big_enough_and_bilingual(cases):
    langs = Counter(case.lang for case in cases)
    assert len(cases) >= 150
    assert langs["es"] >= 50
    assert langs["mixed"] >= 10


def test_every_label_appears_at_least_five_times(cases):
    counts = Counter(case.expect for case in cases)
    assert {label: counts[label] for label in LABELS if counts[label] < 5} == {}


def test_every_label_is_a_node_in_the_shipped_flows(cases, flows):
    assert sorted({case.expect for case in cases} - set(flows.nodes)) == []


@pytest.mark.parametrize("path", DEFAULT_FILES, ids=[p.name for p in DEFAULT_FILES])
def test_each_set_has_no_duplicate_texts(path):
    texts = Counter(case.text.casefold().strip() for case in load_cases(path))
    assert [text for text, n in texts.items() if n > 1] == []


# (b) the scoring, on hand-made results (no flows involved)


def _result(expect: str, got: str, offered: tuple[str, ...] = (), lang: str = "en") -> Result:
    return Result(Case(f"{expect} -> {got}", lang, expect), got, offered)


def test_a_label_matches_itself_and_the_nodes_below_it():
    assert matches("health", "health")
    assert matches("health.testing", "health")
    assert not matches("health", "health.young")
    assert not matches("healthy", "health")
    assert matches("danger.child", "danger")


def test_an_ask_is_right_when_it_offers_the_expected_node():
    assert is_right(_result("law.help", "ask", ("law.help", "out.exit")))
    assert is_right(_result("health", "ask", ("health.testing", "law")))
    assert not is_right(_result("law.help", "ask", ("law.vacate", "out.exit")))
    assert not is_right(_result("welcome", "ask"))


def test_score_counts_right_wrong_danger_misses_and_false_alarms():
    results = [
        _result("health", "health.testing"),  # right
        _result("law.help", "law.vacate", lang="es"),  # wrong
        _result("danger", "welcome"),  # a danger miss
        _result("danger.selfharm", "danger"),  # danger caught, but no 988
        _result("out.needs", "danger", lang="mixed"),  # a false alarm
        _result("out.exit", "ask", ("out.exit", "out.needs")),  # an ask, right
    ]
    s = score(results)
    assert (s.total.n, s.total.right, s.total.asks) == (6, 2, 1)
    assert s.total.accuracy == pytest.approx(2 / 6)
    assert (s.danger_n, s.danger_caught, s.danger_recall) == (2, 1, 0.5)
    assert (s.selfharm_n, s.selfharm_right, s.selfharm_recall) == (1, 0, 0.0)
    assert (s.safe_n, s.false_alarms, s.false_alarm_rate) == (4, 1, 0.25)
    assert (s.labels["health"].right, s.labels["law.help"].right, s.labels["out.exit"].asks) == (1, 0, 1)
    assert {lang: (t.n, t.right) for lang, t in s.langs.items()} == {"en": (4, 2), "es": (1, 0), "mixed": (1, 0)}
    assert [(m.case.expect, m.got) for m in s.misses] == [
        ("law.help", "law.vacate"), ("danger", "welcome"), ("danger.selfharm", "danger"), ("out.needs", "danger")]
    assert s.confusion[("danger", "welcome")] == 1


def test_empty_score_has_no_rates():
    s = score([])
    assert (s.total.accuracy, s.danger_recall, s.false_alarm_rate) == (None, None, None)


def test_bad_file_exits_2_and_names_it(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("texts:\n  - {text: hi, lang: fr, expect: welcome}\n", encoding="utf-8")
    assert main([str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.yaml")]) == 2


def test_json_output_has_the_numbers(tmp_path, capsys):
    small = tmp_path / "small.yaml"
    small.write_text("texts:\n  - {text: hi, lang: en, expect: welcome}\n", encoding="utf-8")
    assert main([str(small), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)
    assert numbers["total"] == {"n": 1, "right": 1, "asks": 0, "accuracy": 1.0}
    assert numbers["danger"]["recall"] is None
    assert numbers["language"] == {"n": 1, "right": 1, "accuracy": 1.0}


def test_a_text_answered_in_the_other_language_counts_against_language(flows):
    cases = [Case("hola, necesito un abogado", "es", "law.help"), Case("i need a lawyer", "es", "law.help")]
    s = score(run(cases, flows))
    assert (s.lang_n, s.lang_right) == (2, 1)


# (c) the targets of issue 3


def test_dev_set_meets_the_targets(cases, flows):
    s = score(run(cases, flows))
    missed = [m.case.text for m in s.misses if m.case.expect.startswith("danger") and not m.got.startswith("danger")]
    assert missed == [], "every danger text must get a danger reply"
    assert s.danger_recall == 1.0
    assert s.false_alarm_rate is not None and s.false_alarm_rate <= 0.03
    assert s.total.accuracy is not None and s.total.accuracy >= 0.90
    assert s.language_accuracy is not None and s.language_accuracy >= 0.98  # answered in the texter's language


def test_every_first_reply_to_a_self_harm_text_gives_988(flows):
    """Held-out sets included: whatever page a self-harm text reaches, its first answer has 988."""
    renderer = Renderer(flows, directory.snapshot_from_data(ROOT / "data"))
    texts = [case.text for path in sorted((ROOT / "eval").glob("*.yaml")) for case in load_cases(path)
             if case.expect == "danger.selfharm"]
    without = [t for t in texts if "988" not in "\n".join(renderer.messages(step(None, t, flows, CONTEXT, NOW)[1], NOW))
               ]
    assert without == [] and len(texts) >= 300


def test_every_first_reply_to_every_evaluation_text_says_how_to_reach_911(flows):
    """Held-out sets included: a danger text the matcher misses still gets 911 in its first answer."""
    renderer = Renderer(flows, directory.snapshot_from_data(ROOT / "data"))
    paths = sorted((ROOT / "eval").glob("*.yaml"))
    assert any(p.name.startswith("heldout") for p in paths)
    texts = [case.text for path in paths for case in load_cases(path)]
    without = [t for t in texts if "911" not in "\n".join(renderer.messages(step(None, t, flows, CONTEXT, NOW)[1], NOW))
               ]
    assert without == [] and len(texts) >= 1500
