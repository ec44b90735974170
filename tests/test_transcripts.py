"""Golden conversations: a person says X, the line answers Y, through the real webhook.

Every turn goes through signature, sealed cookie and TwiML, so the state is serialised and
restored between turns. `pytest --update-golden` rewrites the expected answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli.chat import Conversation, transcript_yaml

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))


def replay(app, turns: list[dict]) -> list[tuple[str, list[str]]]:
    conversation = Conversation.start(app, sender="+18605550142")
    return [(turn["user"], conversation.send(turn["user"])) for turn in turns]


def test_there_is_a_transcript_per_topic_per_language():
    names = {p.stem for p in TRANSCRIPTS}
    for topic in ("welcome", "hotlines", "health", "out", "law", "report", "danger"):
        for lang in ("en", "es"):
            assert f"{topic}.{lang}" in names, f"no golden transcript {topic}.{lang}.yaml"


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(app, path, request):
    golden = yaml.safe_load(path.read_text(encoding="utf-8"))
    actual = replay(app, golden["turns"])
    if request.config.getoption("--update-golden"):
        path.write_text(transcript_yaml(golden["name"], actual), encoding="utf-8")
        return
    for number, (want, (_, got)) in enumerate(zip(golden["turns"], actual, strict=True), start=1):
        assert got == want["bot"], f"turn {number}: the person said {want['user']!r}"
