"""Golden conversations: a person says X, the line answers Y, through the real webhook.

Every turn goes through signature, sealed cookie and TwiML, so the state is serialised and
restored between turns. `pytest --update-golden` rewrites the expected answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.chat import Conversation

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.yaml"))


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def replay(app, turns: list[dict]) -> list[dict]:
    conversation = Conversation.start(app, sender="+18605550142")
    return [{"user": turn["user"], "bot": [_Literal(m) for m in conversation.send(turn["user"])]}
            for turn in turns]


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
        golden["turns"] = actual
        path.write_text(yaml.safe_dump(golden, allow_unicode=True, sort_keys=False, width=200),
                        encoding="utf-8")
        return
    for number, (want, got) in enumerate(zip(golden["turns"], actual, strict=True), start=1):
        assert got["bot"] == want["bot"], f"turn {number}: the person said {want['user']!r}"
