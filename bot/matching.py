"""Understand a text: normalise it, then find commands, numbers, phrases, typos and language.

Pure functions over prebuilt tables; no Flask, no database, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extractOne

LANGUAGES = ("en", "es")

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_MENU_PREFIXES = frozenset({"option", "opcion", "number", "numero", "num", "no", "press", "reply"})


def normalize(text: str) -> str:
    """Lower-case, strip accents, apostrophes, punctuation and emoji; squeeze letters and spaces.

    >>> normalize("  ¿Dónde está la CLÍNICA?? 😟 ")
    'donde esta la clinica'
    >>> normalize("helppp, he's here")
    'help hes here'
    """
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", text)
    text = _NOT_WORD.sub(" ", text)
    return _REPEATS.sub(r"\1", text).strip()


def max_typos(word: str) -> int:
    """How many edits a word of this length may carry and still be recognised.

    Short words get none, because one typo turns them into another word ("law"/"saw").
    >>> [max_typos(w) for w in ("law", "clinic", "counseling")]
    [0, 1, 2]
    """
    if len(word) >= 8:
        return 2
    return 1 if len(word) >= 4 else 0


@dataclass(frozen=True)
class PhraseTable:
    """Phrases (token tuples) each leading to a target, indexed by their first token."""

    by_first: Mapping[str, tuple[tuple[tuple[str, ...], str], ...]]

    @classmethod
    def build(cls, phrases: Mapping[str, Iterable[str]]) -> PhraseTable:
        """Index {target: [phrase, ...]} for matching; longer phrases are tried first."""
        index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for target, items in phrases.items():
            for phrase in items:
                tokens = tuple(normalize(str(phrase)).split())
                if tokens:
                    index.setdefault(tokens[0], []).append((tokens, target))
        return cls({k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in index.items()})

    def targets(self) -> list[str]:
        """Every target a phrase leads to, in first-seen order."""
        return list(dict.fromkeys(t for entries in self.by_first.values() for _, t in entries))

    def words(self) -> set[str]:
        """Every word used in a phrase."""
        return {w for entries in self.by_first.values() for tokens, _ in entries for w in tokens}

    def hits(self, tokens: tuple[str, ...]) -> list[tuple[str, int]]:
        """(target, phrase length) for each phrase found as whole words in tokens.

        >>> PhraseTable.build({"out": ["get out"]}).hits(("i", "want", "to", "get", "out"))
        [('out', 2)]
        """
        found = []
        for i, token in enumerate(tokens):
            for phrase, target in self.by_first.get(token, ()):
                if tokens[i : i + len(phrase)] == phrase:
                    found.append((target, len(phrase)))
                    break
        return found

    def exact(self, tokens: tuple[str, ...]) -> str | None:
        """The target of a phrase that is the whole text, if any."""
        for phrase, target in self.by_first.get(tokens[0] if tokens else "", ()):
            if phrase == tokens:
                return target
        return None


@dataclass(frozen=True)
class Lexicon:
    """Every table the matcher needs, built once when the flows load."""

    commands: PhraseTable  # whole-text commands: optout, menu, back, help, forget, english, spanish
    danger: PhraseTable  # danger phrases -> node id
    topics: PhraseTable  # topic words -> node id
    numbers: Mapping[str, int]
    markers: Mapping[str, frozenset[str]]  # language -> marker words
    topic_language: Mapping[str, frozenset[str]]  # word -> languages whose tables use it
    vocabulary: frozenset[str]
    lockscreen: frozenset[str] = frozenset()  # topic words a message's first line must not show
    _long_words: tuple[str, ...] = field(default=())

    @classmethod
    def build(cls, tables: Mapping[str, Mapping]) -> Lexicon:
        """Build from the keyword tables, {language: table} as read from flows/keywords/."""
        commands: dict[str, list[str]] = {}
        danger: dict[str, list[str]] = {}
        topics: dict[str, list[str]] = {}
        numbers: dict[str, int] = {}
        markers: dict[str, frozenset[str]] = {}
        lockscreen: set[str] = set()
        topic_language: dict[str, set[str]] = {}
        for lang, table in tables.items():
            for name, words in table.get("commands", {}).items():
                commands.setdefault(name, []).extend(words)
            for section, merged in (("danger", danger), ("topics", topics)):
                for node, phrases in table.get(section, {}).items():
                    merged.setdefault(node, []).extend(phrases)
                    for phrase in phrases:
                        for word in normalize(str(phrase)).split():
                            topic_language.setdefault(word, set()).add(lang)
            numbers.update({normalize(str(k)): int(v) for k, v in table.get("numbers", {}).items()})
            markers[lang] = frozenset(normalize(str(w)) for w in table.get("markers", ()))
            for word in table.get("lockscreen", ()):
                word = str(word)
                lockscreen.add(normalize(word) + ("*" if word.endswith("*") else ""))
        built = (PhraseTable.build(commands), PhraseTable.build(danger), PhraseTable.build(topics))
        vocabulary = set(numbers).union(*markers.values())
        for phrase_table in built:
            vocabulary |= phrase_table.words()
        long_words = tuple(sorted(w for w in vocabulary if max_typos(w)))
        return cls(
            *built,
            numbers=numbers,
            markers=markers,
            topic_language={w: frozenset(langs) for w, langs in topic_language.items()},
            vocabulary=frozenset(vocabulary),
            lockscreen=frozenset(lockscreen),
            _long_words=long_words,
        )

    @property
    def danger_targets(self) -> list[str]:
        """The nodes danger words lead to."""
        return self.danger.targets()

    @property
    def topic_targets(self) -> list[str]:
        """The nodes topic words lead to."""
        return self.topics.targets()

    def correct(self, tokens: tuple[str, ...]) -> tuple[str, ...]:
        """Replace each unknown word with the known word it is a small typo of ("hotlne")."""
        return tuple(self._correct_word(t) for t in tokens)

    def _correct_word(self, word: str) -> str:
        if word in self.vocabulary or word.isdigit():
            return word
        limit = max_typos(word)
        if not limit:
            return word
        best = extractOne(word, self._long_words, scorer=Levenshtein.distance, score_cutoff=limit)
        if best is None or max_typos(best[0]) < best[1]:
            return word
        return best[0]


def menu_number(tokens: tuple[str, ...], numbers: Mapping[str, int]) -> int | None:
    """The menu choice a whole text names: "2", "#2", "2.", "two", "dos", "option 2".

    >>> menu_number(("option", "2"), {"two": 2})
    2
    >>> menu_number(("two", "kids"), {"two": 2}) is None
    True
    """
    if len(tokens) == 2 and tokens[0] in _MENU_PREFIXES:
        tokens = tokens[1:]
    if len(tokens) != 1:
        return None
    word = tokens[0]
    if word.isdigit() and len(word) <= 2:
        return int(word)
    return numbers.get(word)


def detect_language(tokens: tuple[str, ...], raw: str, lexicon: Lexicon) -> dict[str, int]:
    """Evidence per language: marker words, words only one language's topics use, Spanish marks.

    >>> lex = Lexicon.build({"en": {"markers": ["my"]}, "es": {"markers": ["mi"]}})
    >>> detect_language(("mi", "novio"), "mi novio", lex)
    {'en': 0, 'es': 1}
    """
    score = dict.fromkeys(lexicon.markers, 0)
    for token in tokens:
        for lang, words in lexicon.markers.items():
            if token in words:
                score[lang] += 1
        langs = lexicon.topic_language.get(token)
        if langs is not None and len(langs) == 1:
            (only,) = langs
            score[only] = score.get(only, 0) + 1
    if "es" in score and any(ch in raw for ch in "ñÑ¿¡áíóúÁÍÓÚ"):
        score["es"] += 2
    return score
