"""Score first texts against their expected nodes: `python -m bot.evaluate [FILE ...] [--json]`.

Each FILE (default: every eval/dev*.yaml) holds `texts: [{text, lang, expect}, ...]`; the texts of all
files are pooled. A label is a node id or prefix: node "health.testing" matches label "health".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import ROOT, tables
from bot.engine.conversation import Context, step
from bot.engine.flows import FlowError, Flows
from bot.tables import load_flows

DEFAULT_FILES = sorted((ROOT / "eval").glob("dev*.yaml"))  # the development sets; heldout-*.yaml on request
LANGS = ("en", "es", "mixed")
NOW = 1_767_225_600.0  # 2026-01-01T00:00Z: a fixed clock, so runs compare
ASK = "ask"
NO_REPLY = "(none)"


class EvalError(ValueError):
    """An evaluation file that cannot be read or has the wrong shape."""


@dataclass(frozen=True)
class Case:
    """One labelled text."""

    text: str
    lang: str
    expect: str


@dataclass(frozen=True)
class Result:
    """What the engine answered a case: the first reply's node, and the nodes an "ask" offered."""

    case: Case
    got: str
    offered: tuple[str, ...] = ()
    lang: str = ""  # the language the line answered in
    by: str = ""  # which part decided: "rules", "model", or "" (welcome, fallback, commands)


@dataclass
class Tally:
    """Counts for one row of the table."""

    n: int = 0
    right: int = 0
    asks: int = 0

    @property
    def accuracy(self) -> float | None:
        """Right over total, None when empty."""
        return self.right / self.n if self.n else None


@dataclass
class Score:
    """Every number the report prints."""

    total: Tally = field(default_factory=Tally)
    labels: dict[str, Tally] = field(default_factory=dict)
    langs: dict[str, Tally] = field(default_factory=dict)
    deciders: dict[str, Tally] = field(default_factory=dict)  # which part decided -> how often it was right
    danger_n: int = 0
    danger_caught: int = 0
    selfharm_n: int = 0
    selfharm_right: int = 0
    safe_n: int = 0
    false_alarms: int = 0
    lang_n: int = 0  # English or Spanish texts (mixed ones may be answered in either)
    lang_right: int = 0  # ... answered in their language
    misses: list[Result] = field(default_factory=list)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def language_accuracy(self) -> float | None:
        """English and Spanish texts answered in their own language, over all of them."""
        return self.lang_right / self.lang_n if self.lang_n else None

    @property
    def danger_recall(self) -> float | None:
        """Danger texts answered with a danger node, over all danger texts."""
        return self.danger_caught / self.danger_n if self.danger_n else None

    @property
    def selfharm_recall(self) -> float | None:
        """Self-harm texts answered with danger.selfharm (988), over all self-harm texts."""
        return self.selfharm_right / self.selfharm_n if self.selfharm_n else None

    @property
    def false_alarm_rate(self) -> float | None:
        """Non-danger texts answered with a danger node, over all non-danger texts."""
        return self.false_alarms / self.safe_n if self.safe_n else None


def matches(node: str, label: str) -> bool:
    """Whether a node satisfies a label: equal, or below it ("law.help" under "law").

    "welcome" (no topic) is met by the welcome or by "didn't get that": both give the main menu.
    """
    if label == "welcome" and node == "fallback":
        return True
    return node == label or node.startswith(label + ".")


def is_danger(node: str) -> bool:
    """Whether a node or label is one of the danger nodes."""
    return matches(node, "danger")


def is_right(result: Result) -> bool:
    """Right when the node matches the label, or when an "ask" offered a matching node."""
    if result.got == ASK:
        return any(matches(node, result.case.expect) for node in result.offered)
    return matches(result.got, result.case.expect)


def load_cases(path: Path) -> list[Case]:
    """Read one evaluation file; EvalError when it is unreadable or malformed."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise EvalError(f"cannot be read: {err}") from None
    items = document.get("texts") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise EvalError("must be a mapping with a 'texts' list")
    cases = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("text", "lang", "expect")):
            raise EvalError(f"text {number}: needs string fields text, lang and expect")
        if item["lang"] not in LANGS:
            raise EvalError(f"text {number}: lang must be one of {', '.join(LANGS)}, not {item['lang']!r}")
        cases.append(Case(item["text"], item["lang"], item["expect"]))
    return cases


def _offered(state: Any) -> tuple[str, ...]:
    """The node ids an "ask" reply offered, from the state's `offer` if the engine keeps one."""
    return tuple(str(getattr(option, "goto", option)) for option in getattr(state, "offer", None) or ())


def run(cases: Iterable[Case], flows: Flows, now: float = NOW, context: Context | None = None) -> list[Result]:
    """Send each case as a first text and record the first reply's node."""
    context = context or tables.context()
    results = []
    for case in cases:
        state, replies = step(None, case.text, flows, context, now)
        got = replies[0].node if replies else NO_REPLY
        results.append(Result(case, got, _offered(state) if got == ASK else (), replies[0].lang if replies else "",
                              replies[0].by if replies else ""))
    return results


def score(results: Iterable[Result]) -> Score:
    """Tally accuracy per label and language, danger recall, self-harm, false alarms and misses."""
    s = Score()
    for result in results:
        case, right = result.case, is_right(result)
        asked = result.got == ASK
        rows = (s.labels.setdefault(case.expect, Tally()), s.langs.setdefault(case.lang, Tally()),
                s.deciders.setdefault(result.by or "none", Tally()))
        for tally in (s.total, *rows):
            tally.n += 1
            tally.right += right
            tally.asks += asked
        if is_danger(case.expect):
            s.danger_n += 1
            s.danger_caught += is_danger(result.got)
        else:
            s.safe_n += 1
            s.false_alarms += is_danger(result.got)
        if case.lang in ("en", "es"):
            s.lang_n += 1
            s.lang_right += result.lang == case.lang
        if case.expect == "danger.selfharm":
            s.selfharm_n += 1
            s.selfharm_right += result.got == "danger.selfharm"
        if not right:
            s.misses.append(result)
            s.confusion[(case.expect, _shown(result))] += 1
    return s


def _shown(result: Result) -> str:
    return f"{ASK}({'|'.join(result.offered)})" if result.got == ASK else result.got


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _table(title: str, rows: dict[str, Tally]) -> list[str]:
    width = max([len(title), *map(len, rows)])
    lines = [f"{title:<{width}}  {'n':>4}  {'right':>5}  {'asks':>4}  {'acc':>6}"]
    for name, t in sorted(rows.items()):
        lines.append(f"{name:<{width}}  {t.n:>4}  {t.right:>5}  {t.asks:>4}  {_pct(t.accuracy):>6}")
    return lines


def render(s: Score) -> str:
    """The report as text."""
    langs = {lang: s.langs[lang] for lang in (*LANGS, *sorted(set(s.langs) - set(LANGS))) if lang in s.langs}
    lines = [
        f"overall accuracy: {_pct(s.total.accuracy)} ({s.total.right}/{s.total.n}, {s.total.asks} asks)",
        f"danger recall:    {_pct(s.danger_recall)} ({s.danger_caught}/{s.danger_n}) must be 100%",
        f"self-harm -> 988: {_pct(s.selfharm_recall)} ({s.selfharm_right}/{s.selfharm_n})",
        f"false alarms:     {_pct(s.false_alarm_rate)} ({s.false_alarms}/{s.safe_n} non-danger texts got danger)",
        f"language:         {_pct(s.language_accuracy)} ({s.lang_right}/{s.lang_n} texts in en or es answered in it)",
        "",
        *_table("label", s.labels),
        "",
        *_table("lang", langs),
        "",
        *_table("decided by", s.deciders),
        "",
        f"misses ({len(s.misses)}):",
        *(f"  {m.case.expect} -> {_shown(m)} [{m.by or 'none'}] : {m.case.text}" for m in s.misses),
        "",
        "confusion (expected -> got):",
        *(f"  {count:>3}  {want} -> {got}" for (want, got), count in s.confusion.most_common()),
    ]
    return "\n".join(lines)


def as_json(s: Score) -> dict[str, Any]:
    """The numbers as plain data."""

    def tally(t: Tally) -> dict[str, Any]:
        return {"n": t.n, "right": t.right, "asks": t.asks, "accuracy": t.accuracy}

    return {
        "total": tally(s.total),
        "labels": {k: tally(v) for k, v in sorted(s.labels.items())},
        "langs": {k: tally(v) for k, v in sorted(s.langs.items())},
        "danger": {"n": s.danger_n, "caught": s.danger_caught, "recall": s.danger_recall},
        "selfharm": {"n": s.selfharm_n, "right": s.selfharm_right, "recall": s.selfharm_recall},
        "false_alarms": {"n": s.safe_n, "alarms": s.false_alarms, "rate": s.false_alarm_rate},
        "language": {"n": s.lang_n, "right": s.lang_right, "accuracy": s.language_accuracy},
        "decided_by": {k: tally(v) for k, v in sorted(s.deciders.items())},
        "misses": [{"expect": m.case.expect, "got": m.got, "offered": list(m.offered), "by": m.by or "none",
                    "text": m.case.text}
                   for m in s.misses],
        "confusion": [{"expect": want, "got": got, "count": n} for (want, got), n in s.confusion.most_common()],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; 0 always, 2 when a file cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m bot.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES, metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    cases: list[Case] = []
    for path in args.files:
        try:
            cases.extend(load_cases(path))
        except EvalError as err:
            print(f"{path}: {err}", file=sys.stderr)
            return 2
    try:
        flows = load_flows(ROOT / "flows")
    except FlowError as err:
        print(err, file=sys.stderr)
        return 2
    result = score(run(cases, flows))
    print(json.dumps(as_json(result), indent=2, ensure_ascii=False) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
