"""In-process costs per text: engine.step, matching, rendering; and how they grow 10x.
Also what bot.privacy pays per log line and per cookie, against the libraries' constructs.

The 10x flows are real files (the flows copied, plus nine renamed replicas with their own
keywords) loaded by bot.engine.flows.load_flows. The 10x directory is built in memory from the
public snapshot (bot.directory.snapshot_from_data), so it does not depend on the data format.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from bot import directory
from bot.engine import conversation as engine
from bot.engine.conversation import State
from bot.engine.flows import SPECIAL_NODES, Flows
from bot.engine.matching import read
from bot.engine.text import normalize
from bot.evaluate import load_cases
from bot.privacy import PADDED, StateCodec, derive_key, redact
from bot.tables import context, load_flows
from bot.web.replies import Renderer

CONTEXT = context()  # the place resolver step needs

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_800_000_000.0
MINUTE = int(NOW // 60)
FACTOR = 10
# Keyword sections that map a node id to the phrases leading there: replicated with the nodes.
KEYWORD_SECTIONS = ("danger", "danger_alone", "topics")

# (what it is, the state before, the text): the kinds of texts the line gets.
TYPICAL_TEXTS: tuple[tuple[str, State | None, str], ...] = (
    ("first text", None, "hi"),
    ("first text (es)", None, "hola"),
    ("menu number", State("welcome", "en", MINUTE), "2"),
    ("menu number (es)", State("health", "es", MINUTE, ("welcome",)), "1"),
    ("free text", None, "where can i get tested?"),
    ("free text (es)", None, "necesito un abogado"),
    ("Spanish sentence", State("welcome", "es", MINUTE), "quiero salirme de esto por favor"),
    ("typo", None, "hotlne"),
    ("unknown words", State("welcome", "en", MINUTE), "asdf qwerty"),
    ("danger", State("health", "en", MINUTE, ("welcome",)), "he is going to hurt me"),
    ("command", State("law.adults", "en", MINUTE, ("welcome", "law")), "BACK"),
)


def _loop_size(fn: Callable[[], Any], budget: float) -> int:
    """How many calls of fn take about `budget` seconds."""
    clock = time.perf_counter
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            fn()
        elapsed = clock() - start
        if elapsed >= budget / 4 or number >= 1 << 20:
            return max(1, int(number * budget / max(elapsed, 1e-9)))
        number *= 2


def per_call_us(fns: list[Callable[[], Any]], repeat: int, budget: float) -> list[float]:
    """Median microseconds per call of each fn, timed in alternation (A B A B ...) so that a
    busy neighbour on a shared machine slows both sides of a comparison alike."""
    clock = time.perf_counter
    numbers = [_loop_size(fn, budget) for fn in fns]
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, number, out in zip(fns, numbers, samples, strict=True):
            start = clock()
            for _ in range(number):
                fn()
            out.append((clock() - start) / number)
    return [statistics.median(s) * 1e6 for s in samples]


# 10x flows: nine renamed replicas of every topic flow, linked from the main menu by a chain of hubs.


def _pseudo_word(word: str, replica: int, taken: set[str]) -> str:
    """A made-up word of the same length (so typo tolerance works the same), unique per replica."""
    if not word.isalpha():
        return word + f"x{replica}"  # digits ("911") keep a digit-free, distinct form
    rng = random.Random(f"{word}|{replica}")  # noqa: S311 - repeatable made-up words, not secrets
    consonants, vowels = "bcdfghjklmnprstvz", "aeiou"
    length = len(word)
    for attempt in range(1_000):
        # One- and two-letter words run out of forms: lengthen them (still too short for typos).
        size = length + attempt // 20 if length < 3 else length
        if size <= 3:  # too few consonant-vowel forms: any letters (no typo tolerance at this length)
            made = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size))
        else:
            made = "".join(rng.choice(vowels if i % 2 else consonants) for i in range(size))
        if made not in taken:
            taken.add(made)
            return made
    raise RuntimeError(f"no made-up word left for {word!r}")


def scaled_flows_dir(source: Path, target: Path, factor: int = FACTOR) -> Path:
    """Write flows `factor` times larger into target: the originals, plus renamed replicas."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    originals: dict[str, dict] = {}
    for path in sorted(source.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and isinstance(document.get("nodes"), dict):  # not campaigns.yaml
            originals[path.name] = document
    topic_nodes = {node for name, doc in originals.items() if name != "welcome.yaml" for node in doc["nodes"]}
    roots = [node for node in topic_nodes if "." not in node]

    def renamed(node: str, replica: int) -> str:
        return f"x{replica}_{node}" if node in topic_nodes else node

    for replica in range(1, factor):
        for name, doc in originals.items():
            if name == "welcome.yaml":
                continue
            nodes = {}
            for node_id, raw in doc["nodes"].items():
                copy = {key: value for key, value in raw.items() if key not in ("route", "for_minors")}  # one each
                if raw.get("options"):
                    copy["options"] = [dict(o, goto=renamed(o["goto"], replica)) for o in raw["options"]]
                nodes[renamed(node_id, replica)] = copy
            _dump(target / f"x{replica}_{name}", {"spec_version": doc["spec_version"], "nodes": nodes})
        hub_options = [{"goto": renamed(root, replica), "label": {"en": f"More {root}", "es": f"Más {root}"}}
                       for root in sorted(roots)]
        if replica + 1 < factor:
            hub_options.append({"goto": f"x{replica + 1}_hub", "label": {"en": "More", "es": "Más"}})
        hub = {"say": {"en": "More topics:", "es": "Más temas:"}, "options": hub_options}
        _dump(target / f"x{replica}_hub.yaml", {"spec_version": 1, "nodes": {f"x{replica}_hub": hub}})

    welcome = originals["welcome.yaml"]
    main = welcome["nodes"]["welcome"]
    main["options"] = [*main["options"], {"goto": "x1_hub", "label": {"en": "More", "es": "Más"}}]
    _dump(target / "welcome.yaml", welcome)

    tables = {path: yaml.safe_load(path.read_text(encoding="utf-8"))
              for path in sorted((source / "keywords").glob("*.yaml"))}
    taken: set[str] = {w for table in tables.values() for words in _all_words(table) for w in words}
    # One made-up vocabulary per replica and language, as if each replica were another topic set.
    made_up: dict[tuple[str, int], dict[str, str]] = {}
    for path, table in tables.items():
        for section in KEYWORD_SECTIONS:
            if not isinstance(table.get(section), dict):
                continue
            extra = {}
            for replica in range(1, factor):
                words = made_up.setdefault((path.name, replica), {})
                for node, phrases in table[section].items():
                    if node in SPECIAL_NODES:
                        continue
                    for phrase in phrases:
                        for word in normalize(str(phrase)).split():
                            if word not in words:
                                words[word] = _pseudo_word(word, replica, taken)
                    extra[renamed(node, replica)] = [" ".join(words[w] for w in normalize(str(p)).split())
                                                     for p in phrases]
            table[section].update(extra)
        _dump(target / "keywords" / path.name, table)
    return target


def _all_words(table: Mapping) -> list[list[str]]:
    out = []
    for phrases_by_key in table.values():
        if not isinstance(phrases_by_key, Mapping):
            continue
        for phrases in phrases_by_key.values():
            if isinstance(phrases, list):
                out.append([w for p in phrases for w in normalize(str(p)).split()])
            elif isinstance(phrases, str):
                out.append(normalize(phrases).split())
    out.append([normalize(str(w)) for w in table.get("markers", ())])
    out.append([normalize(str(w)) for w in table.get("numbers", {})])
    return out


def _dump(path: Path, document: Any) -> None:
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


# 10x directory: the snapshot's services replicated in memory, whatever fields hold them.


def scaled_snapshot(snapshot: Any, factor: int = FACTOR) -> tuple[Any, int, int]:
    """(a snapshot with every service `factor` times, under new ids and categories; services before; after).

    The replicas are other areas' services: same shape, own ids and categories, so a reply
    that lists the original categories lists the same services as before.
    """
    changes: dict[str, Any] = {}
    before = after = 0
    for f in dataclasses.fields(snapshot):
        value = getattr(snapshot, f.name)
        if isinstance(value, Mapping) and value and all(_services(v) for v in value.values()):
            grown: dict[Any, Any] = dict(value)
            for replica in range(1, factor):
                for key, services in value.items():
                    grown[f"{key}~x{replica}"] = type(services)(_replica(s, replica) for s in services)
            changes[f.name] = grown
            before += sum(len(v) for v in value.values())
            after += sum(len(v) for v in grown.values())
        elif _services(value):
            changes[f.name] = type(value)([*value, *(_replica(s, r) for r in range(1, factor) for s in value)])
            before, after = before + len(value), after + len(changes[f.name])
    return dataclasses.replace(snapshot, **changes), before, after


def _services(value: Any) -> bool:
    return (isinstance(value, tuple | list) and bool(value)
            and all(dataclasses.is_dataclass(s) and hasattr(s, "id") for s in value))


def _replica(service: Any, replica: int) -> Any:
    changes: dict[str, Any] = {"id": f"{service.id}~x{replica}"}
    categories = getattr(service, "categories", None)
    if isinstance(categories, tuple | list):
        changes["categories"] = type(categories)(f"{c}~x{replica}" for c in categories)
    return dataclasses.replace(service, **changes)


# The measurements.


def _step_calls(flows: Flows) -> list[tuple[str, Callable[[], Any]]]:
    return [(kind, lambda s=state, t=text: engine.step(s, t, flows, CONTEXT, NOW))
            for kind, state, text in TYPICAL_TEXTS]


EVAL_SAMPLE = 10  # every 10th development text: free text as people write it, for the model's cost


def _free_text_calls(flows: Flows) -> list[tuple[str, Callable[[], Any]]]:
    """A first text from every EVAL_SAMPLE-th development text: the texts the model reads."""
    cases = [case for path in sorted((ROOT / "eval").glob("dev*.yaml")) for case in load_cases(path)]
    return [(f"{n}: {case.text[:30]}", lambda t=case.text: engine.step(None, t, flows, CONTEXT, NOW))
            for n, case in enumerate(cases[::EVAL_SAMPLE])]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _match_calls(flows: Flows) -> list[tuple[str, Callable[[], Any]]]:
    lexicon = flows.lexicon

    def match(text: str) -> Any:
        return read(lexicon.correct(tuple(normalize(text).split())), lexicon)

    return [(kind, lambda t=text: match(t)) for kind, _, text in TYPICAL_TEXTS]


def _answer_calls(flows: Flows, snapshot: Any, cached: bool) -> list[tuple[str, Callable[[], Any]]]:
    """step + rendering: with the long-lived (caching) Renderer of a worker, or a fresh one each time."""
    shared = Renderer(flows, snapshot)
    calls = []
    for kind, state, text in TYPICAL_TEXTS:
        if cached:
            def answer(s=state, t=text):
                return shared.messages(engine.step(s, t, flows, CONTEXT, NOW)[1])
        else:
            def answer(s=state, t=text):
                return Renderer(flows, snapshot).messages(engine.step(s, t, flows, CONTEXT, NOW)[1])
        calls.append((kind, answer))
    return calls


def _measure(*variants: list[tuple[str, Callable[[], Any]]], repeat: int, budget: float) -> list[dict[str, float]]:
    """Per text kind, the median us per call of each variant (same texts), measured side by side."""
    for calls in variants:
        for _, fn in calls:
            fn()  # warm caches the way a running worker has them
    out: list[dict[str, float]] = [{} for _ in variants]
    for index, (kind, _) in enumerate(variants[0]):
        timings = per_call_us([calls[index][1] for calls in variants], repeat, budget)
        for result, us in zip(out, timings, strict=True):
            result[kind] = us
    return out


def summary(per_kind: Mapping[str, float]) -> dict[str, Any]:
    values = list(per_kind.values())
    slowest = max(per_kind, key=per_kind.__getitem__)
    return {"mean_us": statistics.fmean(values), "median_us": statistics.median(values),
            "max_us": per_kind[slowest], "slowest": slowest, "per_text_us": dict(per_kind)}


# What a log filter sees: every record, most without a number.
LOG_LINES: tuple[tuple[str, str], ...] = (
    ("gunicorn boot", "Booting worker with pid: 11455"),
    ("gunicorn listening", "Listening at: http://127.0.0.1:8000 (11455)"),
    ("access log", '127.0.0.1 - - [26/Nov/2026:10:00:00 +0000] "POST /sms HTTP/1.1" 200 245 "-" "TwilioProxy/1.1"'),
    ("app error", "sms: OperationalError at step; answered with the safe menu"),
    ("a number", "texter +18605557319 wrote"),
    ("SQL parameters", "[generated in 0.00012s] ('whatsapp:+18605557319', 'en')"),
    ("directory", "directory: 3 service(s) last confirmed more than 365 days ago: (860) 555-0100"),
)
COOKIE_STATE = State("health.testing", "es", MINUTE, ("welcome", "health", "health.testing", "law", "law.adults"),
                     ("law", "health"), "CARD7")


def _phonenumbers_redact() -> Callable[[str], str] | None:
    """Redaction with phonenumbers.PhoneNumberMatcher (POSSIBLE, region US), or None without the package."""
    try:
        import phonenumbers
    except ImportError:
        return None

    def redact_with_matcher(text: str) -> str:
        parts, last = [], 0
        for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.POSSIBLE):
            start = match.start - 9 if text.endswith("whatsapp:", 0, match.start) else match.start
            parts += [text[last:start], "[number]"]
            last = match.end
        return "".join([*parts, text[last:]]) if parts else text

    return redact_with_matcher


def _fernet_round_trip(secret: str) -> tuple[Callable[[State], str], Callable[[str], Any]]:
    """seal and open as StateCodec does (same JSON, same padding), with cryptography.fernet.Fernet."""
    from cryptography.fernet import Fernet

    fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret, "bench fernet")))

    def seal(state: State) -> str:
        plain = json.dumps([state.node, state.lang, state.at, state.trail, state.offer, state.campaign],
                           separators=(",", ":")).encode()
        return fernet.encrypt(plain.ljust(-(-len(plain) // PADDED) * PADDED)).decode()

    def open_(value: str) -> Any:
        return json.loads(fernet.decrypt(value))

    return seal, open_


def privacy_costs(repeat: int = 7, budget: float = 0.02) -> dict[str, Any]:
    """Per log line, bot.privacy.redact against phonenumbers' matcher; per text, the sealed cookie
    (length, seal + open) against Fernet. Each pair timed side by side in the same run."""
    out: dict[str, Any] = {"log_lines": [f"{kind}: {line!r}" for kind, line in LOG_LINES]}
    ours = [(kind, lambda t=line: redact(t)) for kind, line in LOG_LINES]
    matcher = _phonenumbers_redact()
    if matcher is None:
        (regex_us,) = _measure(ours, repeat=repeat, budget=budget)
        out["redact"], out["phonenumbers"] = summary(regex_us), None
    else:
        regex_us, matcher_us = _measure(ours, [(kind, lambda t=line: matcher(t)) for kind, line in LOG_LINES],
                                        repeat=repeat, budget=budget)
        out["redact"], out["phonenumbers"] = summary(regex_us), summary(matcher_us)
        out["phonenumbers_ratio"] = out["phonenumbers"]["mean_us"] / out["redact"]["mean_us"]
        out["phonenumbers_ratio_max"] = max(matcher_us[k] / regex_us[k] for k in regex_us)
    codec = StateCodec("bench secret")
    fernet_seal, fernet_open = _fernet_round_trip("bench secret")
    codec_us, fernet_us = per_call_us([lambda: codec.open(codec.seal(COOKIE_STATE)),
                                       lambda: fernet_open(fernet_seal(COOKIE_STATE))], repeat, budget * 2)
    out["cookie"] = {"chars": len(codec.seal(COOKIE_STATE)), "seal_open_us": codec_us,
                     "fernet_chars": len(fernet_seal(COOKIE_STATE)), "fernet_seal_open_us": fernet_us}
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """All in-process measurements, as a dict for the table and the JSON file."""
    repeat, budget = (3, 0.004) if quick else (7, 0.02)
    started = time.perf_counter()
    load_start = time.perf_counter()
    flows = load_flows(ROOT / "flows")
    load_1x = time.perf_counter() - load_start
    snapshot = directory.snapshot_from_data(ROOT / "data")
    big_snapshot, services_1x, services_10x = scaled_snapshot(snapshot)
    with tempfile.TemporaryDirectory(prefix="bench-flows-") as tmp:
        big_dir = scaled_flows_dir(ROOT / "flows", Path(tmp) / "flows")
        load_start = time.perf_counter()
        big_flows = load_flows(big_dir)
        load_10x = time.perf_counter() - load_start

    results: dict[str, Any] = {
        "texts": [f"{kind}: {text!r}" for kind, _, text in TYPICAL_TEXTS],
        "flows": {"nodes_1x": len(flows.nodes), "nodes_10x": len(big_flows.nodes),
                  "vocabulary_1x": len(flows.lexicon.vocabulary), "vocabulary_10x": len(big_flows.lexicon.vocabulary),
                  "load_flows_1x_s": load_1x, "load_flows_10x_s": load_10x},
        "directory": {"services_1x": services_1x, "services_10x": services_10x},
    }
    pairs = (
        ("step", "step_10x_flows", _step_calls(flows), _step_calls(big_flows)),
        ("matching", "matching_10x_flows", _match_calls(flows), _match_calls(big_flows)),
        ("answer", "answer_10x_directory", _answer_calls(flows, snapshot, cached=True),
         _answer_calls(flows, big_snapshot, cached=True)),
        ("answer_cold", "answer_cold_10x_directory", _answer_calls(flows, snapshot, cached=False),
         _answer_calls(flows, big_snapshot, cached=False)),
    )
    for base, grown, base_calls, grown_calls in pairs:
        base_us, grown_us = _measure(base_calls, grown_calls, repeat=repeat, budget=budget)
        results[base], results[grown] = summary(base_us), summary(grown_us)
    for name, base, grown in (("step_flows", "step", "step_10x_flows"),
                              ("matching_flows", "matching", "matching_10x_flows"),
                              ("answer_directory", "answer", "answer_10x_directory"),
                              ("answer_cold_directory", "answer_cold", "answer_cold_10x_directory")):
        results.setdefault("growth", {})[name] = results[grown]["mean_us"] / results[base]["mean_us"]
    # The text model's cost: the same free texts with the model and with the keyword rules alone.
    with_model, rules_only = _measure(_free_text_calls(flows), _free_text_calls(dataclasses.replace(flows, model=None)),
                                      repeat=3, budget=0.004)
    model_us, rules_us = list(with_model.values()), list(rules_only.values())
    results["model"] = {"texts": len(model_us), "p50_us": _percentile(model_us, 0.5),
                        "p99_us": _percentile(model_us, 0.99), "rules_p50_us": _percentile(rules_us, 0.5),
                        "rules_p99_us": _percentile(rules_us, 0.99),
                        "features": 0 if flows.model is None else int(flows.model.keys.size),
                        "model_mb": 0 if flows.model is None else
                        (flows.model.keys.nbytes + flows.model.weights.nbytes) / 2**20}
    results["privacy"] = privacy_costs(repeat, budget)
    results["seconds"] = time.perf_counter() - started
    return results
