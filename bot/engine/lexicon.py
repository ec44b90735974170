"""The keyword tables, built once when the flows load: phrase tables by language and section,
stems, typo correction, and the language a text is written in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import Stemmer
from rapidfuzz.distance import OSA
from rapidfuzz.process import extract

from bot.engine.spanish import spanish_variants
from bot.engine.text import _DOUBLED, _NUMBER_UNIT, SPOKEN_ENDINGS, max_typos, normalize


@dataclass(frozen=True)
class PhraseTable:
    """Phrases (token tuples), each leading to targets, and the lengths of those starting with each word.

    Finding the phrases at a word costs one lookup per phrase length, however many phrases
    start with that word ("me" starts hundreds of Spanish ones).
    """

    lengths: Mapping[str, tuple[int, ...]]  # first word -> lengths of its phrases, longest first
    phrases: Mapping[tuple[str, ...], tuple[str, ...]]  # phrase -> targets, in table order

    @classmethod
    def build(cls, phrases: Mapping[str, Iterable[str]],
              stem: Callable[[list[str]], list[str]] | None = None,
              variants: Callable[[tuple[str, ...]], list[tuple[str, ...]]] | None = None) -> PhraseTable:
        """Index {target: [phrase, ...]} for matching, optionally by stem and with each phrase's
        other word orders (`variants`)."""
        index: dict[tuple[str, ...], dict[str, None]] = {}
        for target, items in phrases.items():
            for phrase in items:
                written = tuple(normalize(str(phrase)).split())
                for tokens in [written, *(variants(written) if variants else ())]:
                    if stem is not None:
                        tokens = tuple(stem(list(tokens)))
                    if tokens:
                        index.setdefault(tokens, {})[target] = None
        lengths: dict[str, set[int]] = {}
        for tokens in index:
            lengths.setdefault(tokens[0], set()).add(len(tokens))
        return cls({first: tuple(sorted(found, reverse=True)) for first, found in lengths.items()},
                   {tokens: tuple(targets) for tokens, targets in index.items()})

    def words(self) -> set[str]:
        """Every word used in a phrase."""
        return {w for tokens in self.phrases for w in tokens}

    def hits(self, tokens: tuple[str, ...]) -> list[tuple[str, int]]:
        """(target, phrase length) for each phrase found as whole words in tokens.

        >>> PhraseTable.build({"out": ["get out"]}).hits(("i", "want", "to", "get", "out"))
        [('out', 2)]
        >>> PhraseTable.build({"a": ["help"], "b": ["help me now"]}).hits(("help", "me"))
        [('a', 1)]
        """
        return [(target, length) for target, length, _ in self.hits_at(tokens)]

    def hits_at(self, tokens: tuple[str, ...], every: bool = False) -> list[tuple[str, int, int]]:
        """(target, phrase length, position) for the longest phrase starting at each word
        (with every=True: each target's longest phrase there, as context cues overlap)."""
        found = []
        for i, token in enumerate(tokens):
            seen: set[str] = set()
            for length in self.lengths.get(token, ()):
                if i + length > len(tokens):
                    continue
                for target in self.phrases.get(tokens[i : i + length], ()):
                    if target not in seen:
                        found.append((target, length, i))
                        seen.add(target)
                        if not every:
                            break
                if seen and not every:
                    break
        return found

    def exact(self, tokens: tuple[str, ...]) -> str | None:
        """The target of a phrase that is the whole text, if any."""
        targets = self.phrases.get(tokens)
        return targets[0] if targets else None


SECTIONS = ("danger", "danger_alone", "topics", "context")
# A keyword table names its language's grammar, stemmer and stemmed sections (docs/format.md);
# the grammars are code: other word orders of a phrase written once.
GRAMMARS: dict[str, Callable[[tuple[str, ...]], list[tuple[str, ...]]]] = {"spanish_clitics": spanish_variants}
SWITCH = "language:"  # the command a table's `switch` words give: "language:es"


@dataclass(frozen=True)
class Routes:
    """Where context sends a text: the pages that carry a `route:` in the flows (docs/format.md).

    A route no page names is off: with no `child` page, a teen's danger stays on its own page.
    """

    danger: str | None = None  # danger words with no more to say; any more specific danger page wins over it
    child: str | None = None  # danger, or someone taken, with a child or teen in the text
    self_harm: str | None = None  # never cancelled by "years ago"
    past_harm: str | None = None  # danger words about the past: someone to talk to
    sold: tuple[str, ...] = ()  # a teen telling this about themself is a child being sold, whatever else they say
    minors: Mapping[str, str] = field(default_factory=dict)  # a topic (flow or page) -> its page for under-18s

    def for_minor(self, target: str) -> str:
        """The page a topic's text goes to when it is from or about someone under 18."""
        flow = target.split(".", 1)[0]
        return self.minors.get(target) or self.minors.get(flow) or target


ROUTE_NAMES = ("danger", "child", "self_harm", "past_harm", "sold", "minors")  # the routes a page may carry


@dataclass(frozen=True)
class Stems:
    """One language's phrase tables, indexed by word stems ("following" finds "follow me")."""

    stem: Callable[[list[str]], list[str]]
    tables: Mapping[str, PhraseTable]  # section -> phrases (of stems, for stemmed sections)
    stemmed: frozenset[str]

    def hits_at(self, section: str, words: tuple[str, ...],
                stems: tuple[str, ...] | None = None) -> list[tuple[str, int, int]]:
        """(target, length, position) of the section's phrases in the words (stems: theirs, if known)."""
        if section in self.stemmed:
            words = stems if stems is not None else tuple(self.stem(list(words)))
        return self.tables[section].hits_at(words, every=section == "context")


def told_of_others(topics: Mapping[str, list], others: Mapping) -> dict[str, list]:
    """The topics, with `others["from"]` phrases said of someone else added to `others["to"]`.

    "takes my money" is the texter's own story (out.exit); "takes her money" is someone
    else's (report). `others["swap"]` names the words to change: {"my": ["her", "his"]}.
    Phrases a table already has stay where they are.
    >>> told_of_others({"out.exit": ["takes my money"], "report": []},
    ...                {"from": "out.exit", "to": "report", "swap": {"my": ["her", "his"]}})["report"]
    ['takes her money', 'takes his money']
    """
    swap = {normalize(str(k)): [normalize(str(w)) for w in v] for k, v in others["swap"].items()}
    written = {normalize(str(p)) for phrases in topics.values() for p in phrases}
    told: dict[str, None] = {}
    for phrase in topics.get(others["from"], ()):
        tokens = normalize(str(phrase)).split()
        if any(t in swap for t in tokens):
            for i in range(max(len(swap[t]) for t in tokens if t in swap)):
                said = " ".join(swap[t][i % len(swap[t])] if t in swap else t for t in tokens)
                if said not in written:
                    told[said] = None
    return {**topics, others["to"]: [*topics.get(others["to"], ()), *told]}


def _stemmer(name: str | None) -> Callable[[list[str]], list[str]]:
    """A PyStemmer algorithm's stemWords ("english", "spanish", "portuguese"...), or no stemming."""
    return Stemmer.Stemmer(name).stemWords if name else list


@dataclass(frozen=True)
class Lexicon:
    """Every table the matcher needs, built once when the flows load."""

    commands: PhraseTable  # whole-text commands, exact: optout, menu, back, help, forget, language:es...
    stems: Mapping[str, Stems]  # language -> danger, danger_alone, topics, context phrases by stem
    numbers: Mapping[str, int]
    markers: Mapping[str, frozenset[str]]  # language -> marker words
    topic_language: Mapping[str, frozenset[str]]  # word -> languages whose tables use it
    vocabulary: frozenset[str]
    lockscreen: frozenset[str] = frozenset()  # topic words a message's first line must not show
    shorthand: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "u" -> ("you",), "q" -> ("que",)
    targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # section -> nodes it leads to
    outranks: Mapping[str, frozenset[str]] = field(default_factory=dict)  # node -> topics it beats when both are found
    _by_initial: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # typo targets by first letter
    known: frozenset[str] = frozenset()  # common words never taken for typos (bot/words.py): "acusaron"
    letters: Mapping[str, str] = field(default_factory=dict)  # language -> characters only it writes ("ñ¿")
    routes: Routes = Routes()  # where context sends a text (the pages with a route: in the flows)

    @classmethod
    def build(cls, tables: Mapping[str, Mapping]) -> Lexicon:
        """Build from the keyword tables, {language: table} as read from flows/keywords/."""
        commands: dict[str, list[str]] = {}
        numbers: dict[str, int] = {}
        shorthand: dict[str, tuple[str, ...]] = {}
        topic_language: dict[str, set[str]] = {}
        vocabulary: set[str] = set()
        targets: dict[str, dict[str, None]] = {}
        outranks: dict[str, set[str]] = {}
        lockscreen = {normalize(str(w)) + ("*" if str(w).endswith("*") else "")
                      for table in tables.values() for w in table.get("lockscreen", ())}
        for lang, table in tables.items():
            for node, beaten in (table.get("outranks") or {}).items():
                outranks.setdefault(node, set()).update(beaten)
            for name, words in [*table.get("commands", {}).items(), (SWITCH + lang, table.get("switch") or [])]:
                commands.setdefault(name, []).extend(words)
            numbers.update({normalize(str(k)): int(v) for k, v in table.get("numbers", {}).items()})
            for short, long in (table.get("shorthand") or {}).items():
                shorthand[normalize(str(short))] = tuple(normalize(str(long)).split())
        stems = {lang: _stems(lang, table, targets, vocabulary, topic_language) for lang, table in tables.items()}
        markers = {lang: frozenset(normalize(str(w)) for w in table.get("markers", ()))
                   for lang, table in tables.items()}
        command_table = PhraseTable.build({name: words for name, words in commands.items() if words})
        vocabulary |= set(numbers) | command_table.words()
        vocabulary = vocabulary.union(*markers.values(), *shorthand.values())
        return cls(
            commands=command_table, stems=stems, numbers=numbers, markers=markers,
            topic_language={w: frozenset(langs) for w, langs in topic_language.items()},
            vocabulary=frozenset(vocabulary), lockscreen=frozenset(lockscreen), shorthand=shorthand,
            targets={section: tuple(nodes) for section, nodes in targets.items()},
            outranks={node: frozenset(beaten) for node, beaten in outranks.items()},
            _by_initial=_by_initial(vocabulary),
            letters={lang: str(table["letters"]) for lang, table in tables.items() if table.get("letters")},
        )

    @classmethod
    def corrector(cls, vocabulary: Iterable[str]) -> Lexicon:
        """A lexicon that only mends typos toward these words (no tables)."""
        known = frozenset(vocabulary)
        return replace(cls.build({}), vocabulary=known, _by_initial=_by_initial(known))

    def switch_word(self, lang: str) -> str | None:
        """A word that switches a conversation to the language ("espanol"), if the tables have one."""
        return next((" ".join(tokens) for tokens, targets in self.commands.phrases.items()
                     if SWITCH + lang in targets), None)

    def stem_all(self, words: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """Each language's stems of the words, to match several sections without stemming again."""
        return {lang: tuple(stems.stem(list(words))) for lang, stems in self.stems.items()}

    def hits_at(self, section: str, words: tuple[str, ...],
                stemmed: Mapping[str, tuple[str, ...]] | None = None) -> list[tuple[str, int, int]]:
        """(target, length, position) of a section's phrases in any language, each place once."""
        found: dict[tuple[str, int], int] = {}
        for lang, stems in self.stems.items():
            for target, length, position in stems.hits_at(section, words, stemmed[lang] if stemmed else None):
                if found.get((target, position), 0) < length:
                    found[(target, position)] = length
        return [(target, length, position) for (target, position), length in found.items()]

    @property
    def danger_targets(self) -> tuple[str, ...]:
        """The nodes danger words lead to."""
        return tuple(dict.fromkeys(self.targets.get("danger", ()) + self.targets.get("danger_alone", ())))

    @property
    def topic_targets(self) -> tuple[str, ...]:
        """The nodes topic words lead to."""
        return self.targets.get("topics", ())

    def correct(self, tokens: tuple[str, ...]) -> tuple[str, ...]:
        """Spell out texting shorthand ("u", "rn", "q"), part a number from its unit ("14yo"),
        then mend small typos ("hotlne")."""
        words: list[str] = []
        for token in tokens:
            expanded = self.shorthand.get(token)
            if expanded is None and (unit := _NUMBER_UNIT.match(token)) and token not in self.vocabulary:
                expanded = (unit[1], self._correct_word(unit[2]))  # "14yo", "20min", "24hr"
            words.extend(expanded or (self._correct_word(token),))
        return tuple(words)

    def _correct_word(self, word: str) -> str:
        """The known word within the typo budget (a swap of two letters is one typo).

        A typo drops or swaps letters far more often than it adds one, so a shorter known word
        is taken only when the text doubled a letter ("clinicc"): "dando" is not "dano".
        """
        if word in self.vocabulary or word.isdigit():
            return word
        for short, full in SPOKEN_ENDINGS:  # "killin", "drinkin", "cansao": written as said
            if word.endswith(short) and (spelled := word[: -len(short)] + full) in self.vocabulary:
                return spelled
        if "k" in word and (spelled := word.replace("k", "qu")) in self.vocabulary:  # "kiero", "kitar", "aki"
            return spelled
        if word in self.known:
            return word
        limit = max_typos(word)
        if not limit:
            return word
        for match in _DOUBLED.finditer(word):  # "clinicc": a key held down is the likeliest typo
            single = word[: match.start()] + word[match.start() + 1 :]
            if single in self.vocabulary:
                return single
        found = extract(word, self._by_initial.get(word[0], ()), scorer=OSA.distance, score_cutoff=limit, limit=8)
        doubled = _DOUBLED.search(word) is not None
        for candidate, distance, _ in sorted(found, key=lambda hit: (hit[1], -len(hit[0]))):
            if max_typos(candidate) >= distance and (len(candidate) >= len(word) or doubled):
                return candidate
        return word


def _stems(lang: str, table: Mapping, targets: dict[str, dict[str, None]], vocabulary: set[str],
           topic_language: dict[str, set[str]]) -> Stems:
    """One language's phrase tables; adds their words to the vocabulary, their targets to
    `targets`, and which language each danger and topic word belongs to."""
    stem, stemmed = _stemmer(table.get("stemmer")), frozenset(table.get("stemmed") or ())
    variants = GRAMMARS.get(table.get("grammar") or "")
    sections = {}
    for section in SECTIONS:
        raw = table.get(section, {}) or {}
        if section == "topics" and table.get("others"):
            raw = told_of_others(raw, table["others"])
        sections[section] = PhraseTable.build(raw, stem if section in stemmed else None, variants)
        targets.setdefault(section, {}).update(dict.fromkeys(raw))
        for phrase in (phrase for phrases in raw.values() for phrase in phrases):
            words = normalize(str(phrase)).split()
            for variant in variants(tuple(words)) if variants else ():
                vocabulary.update(variant)  # "pegan" is a word, not a typo of "pagan"
            vocabulary.update(words)
            if section in ("danger", "topics"):
                for word in words:
                    topic_language.setdefault(word, set()).add(lang)
    return Stems(stem, sections, stemmed)


def _by_initial(vocabulary: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Words long enough to be typo targets, by first letter: people rarely mistype the first."""
    index: dict[str, list[str]] = {}
    for word in sorted(vocabulary):
        if max_typos(word):
            index.setdefault(word[0], []).append(word)
    return {letter: tuple(words) for letter, words in index.items()}


def detect_language(tokens: tuple[str, ...], raw: str, lexicon: Lexicon) -> dict[str, int]:
    """Evidence per language: marker words, words only one language's topics use, letters only it writes.

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
    for lang, letters in lexicon.letters.items():
        if lang in score and any(ch in raw for ch in letters):
            score[lang] += 2
    return score
