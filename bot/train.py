"""Train the text model from the labelled texts: `python -m bot.train [FILE ...] [--out PATH]`.

Deterministic: the same texts give the same model. Needs the `train` extra (scikit-learn);
the line itself needs only NumPy to read the model. Thresholds are set on the development
sets alone, from predictions each set got from a model trained without it (leave one set out):
never from a held-out set.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot import ROOT
from bot.engine.flows import FlowError, Flows
from bot.engine.model import MODEL_FILE, Features, TextModel, is_danger
from bot.evaluate import DEFAULT_FILES, Case, EvalError, load_cases, run, score
from bot.tables import load_flows

FEATURES = Features()  # the pinned features
REGULARISATION = 20.0  # inverse L2 strength (scikit-learn's C), chosen on held-out folds of the development sets
MAX_ITER = 3000
TOLERANCE = 1e-4
FOLDS = 6  # the sets are dealt into this many groups; each group is answered by a model trained on the others
FALSE_ALARM_BUDGET = 0.015  # the danger threshold keeps the unseen-set false alarms (model's share) under this
TOPIC_FLOOR = 0.25  # the model's topic is taken, where the rules found none, when its probability is at least this
OVERRULE = 0.3  # ... and over the rules' topic when it is at least this and the rules' topic is far behind
CLOSE = 0.7  # "which one did you mean?" when the second label has this share of the first's probability


@dataclass(frozen=True)
class Report:
    """What training measured: the folds' figures with the chosen thresholds, and the final fit's."""

    thresholds: dict[str, float]
    folds: dict
    fit: dict


def design(texts: Sequence[str], features: Features) -> tuple[object, np.ndarray]:
    """The feature matrix (rows L2-normalised) and the sorted feature hashes its columns stand for."""
    from scipy.sparse import csr_matrix

    rows = [features.of(text) for text in texts]
    keys = np.array(sorted({h for row in rows for h in row}), dtype=np.uint32)
    columns = np.concatenate([np.searchsorted(keys, np.asarray(row, dtype=np.uint32)) for row in rows]
                             or [np.zeros(0, dtype=np.int64)])
    values = np.concatenate([np.full(len(row), 1 / np.sqrt(len(row)) if row else 0.0) for row in rows]
                            or [np.zeros(0)])
    indptr = np.cumsum([0, *map(len, rows)])
    return csr_matrix((values, columns, indptr), shape=(len(rows), keys.size)), keys


def fit(cases: Sequence[Case], features: Features = FEATURES, strength: float = REGULARISATION,
        thresholds: dict[str, float] | None = None, meta: dict | None = None) -> TextModel:
    """A model trained on these cases (deterministic: lbfgs from zero, no shuffling)."""
    from sklearn.linear_model import LogisticRegression

    matrix, keys = design([case.text for case in cases], features)
    labels = sorted({case.expect for case in cases})
    target = np.array([labels.index(case.expect) for case in cases])
    learner = LogisticRegression(C=strength, max_iter=MAX_ITER, tol=TOLERANCE)
    learner.fit(matrix, target)
    weights = np.asarray(learner.coef_.T, dtype=np.float32)
    keep = np.abs(weights).max(axis=1) >= 1e-3  # features that move no label are left out
    return TextModel(tuple(labels), keys[keep], weights[keep], learner.intercept_.astype(np.float32), features,
                     dict(thresholds or {}), dict(meta or {}))


def folds(sets: dict[str, list[Case]], features: Features, strength: float) -> dict[str, TextModel]:
    """For each set, a model trained without it (nor the other sets of its group)."""
    names = sorted(sets)
    group = {name: i % FOLDS for i, name in enumerate(names)}
    models = {}
    for g in sorted(set(group.values())):
        model = fit([c for name in names if group[name] != g for c in sets[name]], features, strength)
        models.update({name: model for name in names if group[name] == g})
    return models


def with_model(flows: Flows, model: TextModel | None, thresholds: dict[str, float]) -> Flows:
    """The flows reading text with this model and these thresholds."""
    return replace(flows, model=None if model is None else replace(model, thresholds=thresholds))


def _unseen(sets: dict[str, list[Case]], models: dict[str, TextModel], flows: Flows, thresholds: dict[str, float]):
    """Every set answered by the line with the model that never saw it."""
    results = []
    for name, cases in sets.items():
        results.extend(run(cases, with_model(flows, models[name], thresholds)))
    return results


def danger_threshold(sets: dict[str, list[Case]], models: dict[str, TextModel], budget: float) -> float:
    """The lowest danger probability whose false alarms on unseen sets (model's share) stay in budget."""
    safe = sorted((models[name].guess(case.text).danger for name, cases in sets.items() for case in cases
                   if not is_danger(case.expect)), reverse=True)
    allowed = int(budget * len(safe))
    return round(float(safe[allowed]) + 1e-4, 4) if allowed < len(safe) else 0.5


def summary(results) -> dict:
    """The figures of a run that training reports."""
    s = score(results)
    return {"accuracy": s.total.accuracy, "danger_recall": s.danger_recall, "selfharm_recall": s.selfharm_recall,
            "false_alarms": s.false_alarm_rate, "asks": s.total.asks, "n": s.total.n,
            "langs": {lang: t.accuracy for lang, t in sorted(s.langs.items())}}


def train(files: Sequence[Path], flows: Flows, features: Features = FEATURES,
          strength: float = REGULARISATION) -> tuple[TextModel, Report]:
    """Choose the thresholds on leave-one-set-out runs, then fit on every set."""
    sets = {path.name: load_cases(path) for path in files}
    models = folds(sets, features, strength)
    thresholds = {"danger": danger_threshold(sets, models, FALSE_ALARM_BUDGET), "topic": TOPIC_FLOOR,
                  "close": CLOSE, "overrule": OVERRULE}
    unseen = summary(_unseen(sets, models, flows, thresholds))
    every = [case for cases in sets.values() for case in cases]
    meta = {"trained_on": sorted(sets), "texts": len(every), "regularisation": strength,
            "leave_one_set_out": unseen}
    model = fit(every, features, strength, thresholds, meta)  # the figures above are this training's own
    fitted = summary(run(every, with_model(flows, model, thresholds)))
    return model, Report(thresholds, unseen, fitted)


def _line(name: str, figures: dict) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"
    return (f"{name:<28} accuracy {pct(figures['accuracy'])}, danger recall {pct(figures['danger_recall'])}, "
            f"self-harm 988 {pct(figures['selfharm_recall'])}, false alarms {pct(figures['false_alarms'])}, "
            f"asks {figures['asks']}/{figures['n']}; "
            + ", ".join(f"{lang} {pct(acc)}" for lang, acc in figures["langs"].items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Train and write the model; 0 when written, 2 when a file cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m bot.train", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES, metavar="FILE")
    parser.add_argument("--out", type=Path, default=ROOT / "flows" / MODEL_FILE, help="where to write the model")
    parser.add_argument("--flows", type=Path, default=ROOT / "flows", help="the flows whose rules it sits beside")
    args = parser.parse_args(argv)
    try:
        flows = replace(load_flows(args.flows), model=None)
        model, report = train(args.files, flows)
    except (EvalError, FlowError) as err:
        print(err, file=sys.stderr)
        return 2
    model.save(args.out)
    print(f"trained on {model.meta['texts']} texts in {len(model.meta['trained_on'])} sets; "
          f"{model.keys.size} features; thresholds {report.thresholds}")
    print(_line("each set, unseen by the model", report.folds))
    print(_line("every set, the final model", report.fit))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
