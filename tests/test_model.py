"""The text model: shipped, deterministic to retrain, read without scikit-learn, and one decision rule."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from bot import ROOT
from bot.engine.conversation import step
from bot.engine.model import MODEL_FILE, TextModel
from bot.errors import FlowError
from bot.evaluate import DEFAULT_FILES, NOW
from bot.tables import context, load_flows

CONTEXT = context()  # the place resolver step needs


@pytest.fixture(scope="module")
def flows():
    return load_flows(ROOT / "flows")


def test_the_line_ships_a_model_and_reads_it_at_start(flows):
    assert flows.model is not None
    assert set(flows.model.labels) <= set(flows.nodes)
    assert (ROOT / "flows" / MODEL_FILE).stat().st_size < 3_000_000  # small enough to commit and load at start


def test_reading_a_text_needs_numpy_only(tmp_path):
    """The line's workers never import scikit-learn or SciPy: they are the training extra."""
    code = ("import sys; from bot import ROOT; from bot.tables import load_flows, context; CONTEXT = context(); "
            "from bot.engine.conversation import step;"
            "f = load_flows(ROOT / 'flows'); step(None, 'he took my phone and locked the door', f, CONTEXT, 0.0);"
            "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                         cwd=tmp_path)
    assert out.stdout.strip() == "[]"


def test_retraining_gives_the_shipped_model_and_figures(tmp_path, flows):
    """python -m bot.train is deterministic: the same texts give the same thresholds, features and figures."""
    pytest.importorskip("sklearn")
    from bot.train import main

    out = tmp_path / MODEL_FILE
    assert main(["--out", str(out)]) == 0
    again, shipped = TextModel.load(out), flows.model
    assert again.labels == shipped.labels and again.thresholds == shipped.thresholds
    assert again.meta["trained_on"] == shipped.meta["trained_on"] == sorted(p.name for p in DEFAULT_FILES)
    assert again.meta["leave_one_set_out"] == shipped.meta["leave_one_set_out"]
    assert (again.keys == shipped.keys).all()
    assert abs(again.weights - shipped.weights).max() < 2e-3  # float16 on disk
    for text in ("me tiene encerrada y no me deja salir", "where can i get tested", "quiero borrar mi record"):
        assert again.guess(text).top[0] == shipped.guess(text).top[0]


def test_the_model_reads_danger_the_keyword_tables_do_not_name(flows):
    rules_only = replace(flows, model=None)
    text = "giving my stuff to the girls tonight. my daughter is better off w my mom anyway"
    assert step(None, text, rules_only, CONTEXT, NOW)[1][0].node == "fallback"
    _, replies = step(None, text, flows, CONTEXT, NOW)
    assert replies[0].node == "danger.selfharm" and replies[0].by == "model"


def test_one_or_two_words_are_never_danger_by_the_model(flows):
    """"no se", "goodbye" and "pls" are common replies: only the keyword tables may call them danger."""
    for text in ("no se", "goodbye", "pls", "adios", "no"):
        _, replies = step(None, text, flows, CONTEXT, NOW)
        assert not replies[0].node.startswith("danger"), text


def test_danger_from_the_rules_stands_whatever_the_model_says(flows):
    _, replies = step(None, "911", flows, CONTEXT, NOW)
    assert replies[0].node == "danger" and replies[0].by == "rules"


def _flows_without_model(tmp_path):
    """A copy of the shipped flows folder, without the model file."""
    folder = tmp_path / "flows"
    folder.mkdir()
    for path in (ROOT / "flows").rglob("*.yaml"):
        target = folder / path.relative_to(ROOT / "flows")
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(path.read_bytes())
    return folder


def test_a_broken_model_file_is_refused_naming_it(tmp_path):
    folder = _flows_without_model(tmp_path)
    (folder / MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(FlowError, match=r"model\.npz: not a model file"):
        load_flows(folder)


def test_without_a_model_the_line_reads_with_the_rules_alone(tmp_path):
    flows = load_flows(_flows_without_model(tmp_path))
    assert flows.model is None
    assert step(None, "where can i get tested", flows, CONTEXT, NOW)[1][0].by == "rules"


@pytest.mark.parametrize("text", [
    "i need a lawyer for my case and i want to kill myself",
    "necesito un abogado para mi caso de inmigracion y me quiere matar",
    "can i get a bed at a shelter tonight im in danger",
    "how do i get my record cleared? im being held and cant leave",
])
def test_a_danger_phrase_beside_a_request_is_answered_as_danger(flows, text):
    """Danger when the rules or the model say so: the model never sets a danger phrase aside."""
    assert step(None, text, flows, CONTEXT, NOW)[1][0].node.startswith("danger")


def test_the_model_reads_danger_even_where_a_town_is_asked_for(flows):
    from bot.engine.conversation import State

    state = State("out.shelter", "en", int(NOW // 60), ("welcome", "out"))
    _, replies = step(state, "in new britain, nobody would even notice if i disappeared", flows, CONTEXT, NOW)
    assert replies[0].node == "danger.selfharm"


@pytest.mark.parametrize("text", ["no se ?", "goodbye 👋 .", "tired 😴 .", "scared", "si si"])
def test_punctuation_and_emoji_do_not_make_one_or_two_words_enough_for_the_model(flows, text):
    _, replies = step(None, text, flows, CONTEXT, NOW)
    assert replies[0].node == "welcome"


@pytest.mark.parametrize("text", ["911", "help me now", "me violaron", "he has a gun"])
def test_short_alarms_stand_whatever_the_model_says(flows, text):
    assert step(None, text, flows, CONTEXT, NOW)[1][0].node.startswith("danger")


def test_a_text_likelier_danger_than_any_page_gets_911_and_988_not_a_guess(flows):
    _, replies = step(None, "ya nada tiene sentido la neta", flows, CONTEXT, NOW)
    assert replies[0].node == "fallback" and "988" in replies[0].text


def test_every_danger_page_but_the_child_line_lists_988(flows):
    """A self-harm text the rules or the model send to another danger page still gets 988 at once."""
    from bot import directory
    from bot.engine.conversation import reply_for
    from bot.web.replies import Renderer

    renderer = Renderer(flows, directory.snapshot_from_data(ROOT / "data"))
    for node in ("danger", "danger.selfharm", "danger.assault"):
        for lang in ("en", "es"):
            assert "988" in "\n".join(renderer.messages((reply_for(flows, node, lang),), NOW)), (node, lang)
