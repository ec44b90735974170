"""A learned reading of free text, beside the keyword tables: which page a text asks for, and
how likely it is that the person is in danger.

The model is linear over hashed word and character n-grams, trained by `python -m bot.train`
from the labelled texts in `eval/` and shipped as one small file, `flows/model.npz`. Reading a
text is a sparse dot product in NumPy: no scikit-learn, no download, no I/O after loading.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.engine.text import normalize

MODEL_FILE = "model.npz"
FORMAT = 1
DANGER = "danger"  # the label family whose probabilities add up to "in danger"


@dataclass(frozen=True)
class Features:
    """Which n-grams a text is read as; pinned in the model file so training and serving agree."""

    word_ngrams: int = 2  # words and word pairs
    char_min: int = 3  # character n-grams inside each word, padded with spaces
    char_max: int = 5
    bits: int = 24  # hash space; only the hashes seen in training are stored

    def of(self, text: str) -> list[int]:
        """The sorted, distinct feature hashes of a text.

        >>> Features().of("Hi!") == Features().of("hi")
        True
        >>> len(Features().of("")) == 0
        True
        """
        words = normalize(text).split()
        grams = [f"w{n}:{' '.join(words[i:i + n])}"
                 for n in range(1, self.word_ngrams + 1) for i in range(len(words) - n + 1)]
        for word in words:
            padded = f" {word} "
            for n in range(self.char_min, self.char_max + 1):
                grams.extend(f"c:{padded[i:i + n]}" for i in range(len(padded) - n + 1))
        mask = (1 << self.bits) - 1
        return sorted({zlib.crc32(gram.encode()) & mask for gram in grams})


@dataclass(frozen=True)
class Guess:
    """What the model makes of one text."""

    ranked: tuple[tuple[str, float], ...]  # every label with its probability, most likely first
    danger: float  # the probability that the text is danger of any kind

    @property
    def top(self) -> tuple[str, float]:
        return self.ranked[0]


@dataclass(frozen=True, eq=False)
class TextModel:
    """A trained model: the labels, the weights of each seen feature, and the decision thresholds."""

    labels: tuple[str, ...]
    keys: np.ndarray  # sorted feature hashes (uint32)
    weights: np.ndarray  # one row of per-label weights for each key (float32)
    bias: np.ndarray  # per-label bias (float32)
    features: Features
    thresholds: dict[str, float]  # danger, topic, close: see docs/understanding.md
    meta: dict

    def guess(self, text: str) -> Guess:
        """Label probabilities and the danger probability of a text."""
        found = np.asarray(self.features.of(text), dtype=np.uint32)
        logits = self.bias.astype(np.float64)
        if found.size:
            rows = np.minimum(np.searchsorted(self.keys, found), self.keys.size - 1)
            rows = rows[self.keys[rows] == found]  # features never seen in training weigh nothing
            if rows.size:
                logits = logits + self.weights[rows].sum(axis=0, dtype=np.float64) / np.sqrt(found.size)
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")
        ranked = tuple((self.labels[i], float(probs[i])) for i in order)
        danger = float(sum(p for label, p in ranked if is_danger(label)))
        return Guess(ranked, danger)

    def save(self, path: Path) -> None:
        """Write the model as one .npz file (no pickles)."""
        head = {"format": FORMAT, "labels": list(self.labels), "features": self.features.__dict__,
                "thresholds": self.thresholds, "meta": self.meta}
        with path.open("wb") as out:
            np.savez_compressed(out, keys=self.keys, weights=self.weights.astype(np.float16),
                                bias=self.bias.astype(np.float32), head=np.array(json.dumps(head, sort_keys=True)))

    @classmethod
    def load(cls, path: Path) -> TextModel:
        """Read a model file; ValueError naming the file when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                head = json.loads(str(data["head"]))
                keys, weights, bias = data["keys"], data["weights"], data["bias"]
        except (OSError, KeyError, ValueError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a model file ({err})") from None
        if head.get("format") != FORMAT:
            raise ValueError(f"{path}: model format {head.get('format')!r}, expected {FORMAT}")
        labels = tuple(head["labels"])
        if weights.shape != (keys.size, len(labels)) or bias.shape != (len(labels),):
            raise ValueError(f"{path}: weights of shape {weights.shape} do not fit {len(labels)} labels")
        return cls(labels, keys.astype(np.uint32), weights.astype(np.float32), bias.astype(np.float32),
                   Features(**head["features"]), dict(head["thresholds"]), dict(head.get("meta", {})))


def is_danger(label: str) -> bool:
    """Whether a label is one of the danger pages."""
    return label == DANGER or label.startswith(DANGER + ".")
