"""SMS cost: texts and segments until a person has a number to call or text.

Two sources: the golden transcripts (tests/transcripts/*.yaml) replayed through the webhook in
process (falling back to their recorded answers if the app cannot be built), and the shortest
path through the menus from a first "hi" / "hola" to each main-menu topic's first number.
"""

from __future__ import annotations

import re
import secrets
import statistics
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from bot.engine.sms import count_segments
from bot.tables import context

CONTEXT = context()  # the place resolver step needs

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = ROOT / "tests" / "transcripts"

# A number a person can use: a NANP number, an N11 code or 988, or a 5-6 digit short code,
# on a line that says to call or text it ("call or text 988", "text HOME to 741741", "llama al 911").
_NUMBER = r"(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}|[2-9]11|988|\d{5,6}"
_VERB = r"\b(?:call|text|llama|llamar|manda|escribe|marca)\b"
_ON_A_LINE = re.compile(rf"(?i){_VERB}[^\n]*")
_NUMBER_ALONE = re.compile(rf"(?<![\w$,.-])(?:{_NUMBER})(?![\w-])")
EMERGENCY = "911"


def numbers_in(message: str) -> list[str]:
    """The numbers a message tells a person to call or text, in order.

    >>> numbers_in("In danger now? Call 911.\\nCrisis line: call or text 988 (24/7)")
    ['911', '988']
    >>> numbers_in("at most 364 days in jail and a $2,000 fine. Public Act 21-103.")
    []
    """
    found = []
    for line in _ON_A_LINE.finditer(message):
        found.extend(m.group(0) for m in _NUMBER_ALONE.finditer(line.group(0)))
    return found


def _first_number(turns: list[tuple[str, list[str]]], beyond_911: bool) -> tuple[int, int] | None:
    """(texts sent, segments received) until the first message with a number, or None."""
    segments = 0
    for texts, (_user, messages) in enumerate(turns, start=1):
        for message in messages:
            segments += count_segments(message)[1]
            numbers = numbers_in(message)
            if beyond_911:
                numbers = [n for n in numbers if n != EMERGENCY]
            if numbers:
                return texts, segments
    return None


def _replay(paths: list[Path]) -> tuple[dict[str, list[tuple[str, list[str]]]], str, int]:
    """Each transcript's turns as the line answers them now; (turns by name, source, how many match golden)."""
    golden = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths}
    recorded = {name: [(str(t["user"]), [str(m) for m in t.get("bot") or []]) for t in doc["turns"]]
                for name, doc in golden.items()}
    try:
        from bot.app import create_app
        from bot.cli.chat import Conversation

        with tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp:
            app = create_app({"TWILIO_AUTH_TOKEN": secrets.token_hex(16), "SECRET_KEY": secrets.token_urlsafe(32),
                              "LOCAL_MODE": False, "DATABASE_URL": f"sqlite:///{tmp}/helpline.db", "TESTING": True})
            live = {}
            for number, (name, turns) in enumerate(recorded.items()):
                conversation = Conversation.start(app, sender=f"+1860555{9000 + number:04d}")
                live[name] = [(user, conversation.send(user)) for user, _ in turns]
            _release(app)
    except Exception as err:  # noqa: BLE001 - a benchmark still reports what it can
        return recorded, f"recorded answers (live replay failed: {type(err).__name__}: {err})", len(recorded)
    matching = sum(live[name] == recorded[name] for name in recorded)
    return live, "live replay through the webhook", matching


def _release(app: Any) -> None:
    """Write the app's pending counts and close its database before its temp folder goes."""
    line = app.extensions.get("helpline")
    tally = getattr(line, "tally", None)
    if tally is not None:
        tally.flush()  # the app flushes again at exit: with nothing pending, it writes nothing
    engine = getattr(getattr(line, "directory", None), "engine", None)
    if engine is not None:
        engine.dispose()


def transcripts_cost(paths: list[Path] | None = None) -> dict[str, Any]:
    paths = sorted(paths or TRANSCRIPTS.glob("*.yaml"))
    conversations, source, matching = _replay(paths)
    per: dict[str, Any] = {}
    for name, turns in conversations.items():
        any_number = _first_number(turns, beyond_911=False)
        directory_number = _first_number(turns, beyond_911=True)
        per[name] = {
            "texts": len(turns),
            "segments": sum(count_segments(m)[1] for _, messages in turns for m in messages),
            "messages": sum(len(messages) for _, messages in turns),
            "to_any_number": any_number,
            "to_directory_number": directory_number,
        }

    def average(key: str, index: int) -> float:
        values = [v[key][index] for v in per.values() if v[key] is not None]
        return statistics.fmean(values) if values else float("nan")

    return {
        "source": source,
        "transcripts": len(per),
        "match_golden": matching,
        "per_transcript": per,
        "avg_texts_to_any_number": average("to_any_number", 0),
        "avg_segments_to_any_number": average("to_any_number", 1),
        "reach_any_number": sum(v["to_any_number"] is not None for v in per.values()),
        "avg_texts_to_directory_number": average("to_directory_number", 0),
        "avg_segments_to_directory_number": average("to_directory_number", 1),
        "reach_directory_number": sum(v["to_directory_number"] is not None for v in per.values()),
        "avg_segments_per_conversation": statistics.fmean(v["segments"] for v in per.values()) if per else 0.0,
        "avg_texts_per_conversation": statistics.fmean(v["texts"] for v in per.values()) if per else 0.0,
        "avg_segments_per_text": (sum(v["segments"] for v in per.values()) / sum(v["texts"] for v in per.values())
                                  if per else 0.0),
    }


def menu_paths(max_texts: int = 5) -> dict[str, Any]:
    """For each main-menu topic, in both languages: the fewest texts (first text, then menu
    numbers) until a message holds a number other than 911, and the segments received until then."""
    from bot import directory
    from bot.engine import conversation as engine
    from bot.tables import load_flows
    from bot.web.replies import Renderer

    flows = load_flows(ROOT / "flows")
    renderer = Renderer(flows, directory.snapshot_from_data(ROOT / "data"))
    now = 1_800_000_000.0
    per: dict[str, Any] = {}
    for first in ("hi", "hola"):
        state, replies = engine.step(None, first, flows, CONTEXT, now)
        first_segments = sum(count_segments(m)[1] for m in renderer.messages(replies, now))
        home = state
        for choice, option in enumerate(flows.nodes[home.node].options, start=1):
            # Breadth first over menu numbers: (state, texts so far, segments so far).
            queue = deque([(home, 1, first_segments, [first])])
            found = None
            while queue and found is None:
                here, texts, segments, said = queue.popleft()
                if texts >= max_texts:
                    continue
                numbers = [str(choice)] if texts == 1 else [str(n) for n in
                                                            range(1, len(flows.nodes[here.node].options) + 1)]
                for number in numbers:
                    nxt, replies = engine.step(here, number, flows, CONTEXT, now)
                    messages = renderer.messages(replies, now)
                    got = segments
                    for message in messages:
                        got += count_segments(message)[1]
                        if [n for n in numbers_in(message) if n != EMERGENCY]:
                            found = (texts + 1, got, [*said, number])
                            break
                    if found:
                        break
                    if nxt is not None:
                        queue.append((nxt, texts + 1, got, [*said, number]))
            per[f"{home.lang}:{option.goto}"] = found
    reached = [v for v in per.values() if v is not None]
    return {
        "per_topic": {k: (None if v is None else {"texts": v[0], "segments": v[1], "path": v[2]})
                      for k, v in per.items()},
        "avg_texts": statistics.fmean(v[0] for v in reached) if reached else float("nan"),
        "avg_segments": statistics.fmean(v[1] for v in reached) if reached else float("nan"),
        "reached": len(reached),
        "topics": len(per),
    }


def run() -> dict[str, Any]:
    return {"transcripts": transcripts_cost(), "menu": menu_paths()}
