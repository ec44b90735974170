"""Understand a text: normalise it, then find commands, numbers, phrases, typos and language.

Pure functions over prebuilt tables; no Flask, no database, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import Stemmer
from rapidfuzz.distance import OSA
from rapidfuzz.process import extract

LANGUAGES = ("en", "es")

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_DOUBLED = re.compile(r"([a-z])\1")
# Letters dropped in speech ("killin", "cansao"), restored before the common-word check.
SPOKEN_ENDINGS = (("in", "ing"), ("ao", "ado"), ("io", "ido"), ("ia", "ida"))
_NUMBER_UNIT = re.compile(r"^(\d+)(?!(?:st|nd|rd|th)$)([a-z]{2,})$")  # not "8th"
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


BOUNDARY = "."  # stands between sentences in sentence_words(): no phrase or cue reaches across it
_SENTENCE_END = re.compile(r"[.!?;\n]+(?:\s|$)")


def sentence_words(text: str) -> tuple[str, ...]:
    """The normalised words of a text, with BOUNDARY between its sentences.

    >>> sentence_words("He used to hit me. Now I need a bed!")
    ('he', 'used', 'to', 'hit', 'me', '.', 'now', 'i', 'need', 'a', 'bed')
    """
    words: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        part = normalize(sentence).split()
        if part:
            words.extend([BOUNDARY, *part] if words else part)
    return tuple(words)


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


# Spanish puts an object pronoun either before the verb phrase or on the end of its
# infinitive or gerund: "me quiere matar" = "quiere matarme", "me esta siguiendo" =
# "esta siguiendome". Each Spanish phrase is also matched in its other order.
CLITICS = ("me", "te", "nos", "la", "lo", "le", "les", "las", "los", "se")
# The verbs a pronoun climbs over most, for phrases that start with "quitarme", "siguiendome".
# Only "I" verbs before an infinitive: "quitarme la vida" is "me quiero quitar la vida", but
# "cortarme" is not "me van a cortar (la luz)".
CLIMB_INFINITIVE = tuple(tuple(h.split()) for h in (
    "quiero", "voy a", "puedo", "tengo que", "acabo de", "trato de", "pienso", "necesito"))
CLIMB_GERUND = tuple(tuple(h.split()) for h in (
    "estoy", "esta", "estan", "anda", "andan", "sigue", "siguen", "viene", "vienen"))
_NONFINITE = re.compile(r"^[a-z]{2,}(ar|er|ir|ando|iendo|yendo)$")
_NONFINITE_CLITIC = re.compile(r"^([a-z]{2,}(?:ar|er|ir|ando|iendo|yendo))(" + "|".join(CLITICS) + ")$")


def clitic_variants(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The phrase with its object pronoun moved to the other place Spanish allows.

    >>> clitic_variants(("me", "quiere", "matar"))
    [('quiere', 'matarme')]
    >>> clitic_variants(("quiero", "quitarme", "la", "vida"))
    [('me', 'quiero', 'quitar', 'la', 'vida')]
    >>> clitic_variants(("me", "va", "a", "matar"))
    [('va', 'a', 'matarme')]
    >>> ("me", "quiero", "quitar", "la", "vida") in clitic_variants(("quitarme", "la", "vida"))
    True
    """
    found = []
    moved = _NONFINITE_CLITIC.match(tokens[0]) if tokens else None
    if moved:  # "quitarme la vida": "me quiero quitar la vida", "me voy a quitar la vida"...
        verb, clitic = moved.groups()
        heads = CLIMB_GERUND if verb.endswith("ndo") else CLIMB_INFINITIVE
        found.extend((clitic, *head, verb, *tokens[1:]) for head in heads)
    for i, token in enumerate(tokens):
        j = i + 2 + (tokens[i + 2 : i + 3] == ("a",))  # "me va a matar": past the "a"
        if token in CLITICS and j < len(tokens) and _NONFINITE.match(tokens[j]):
            found.append(tokens[:i] + tokens[i + 1 : j] + (tokens[j] + token,) + tokens[j + 1 :])
        moved = _NONFINITE_CLITIC.match(token)
        start = i - 1 - (i >= 2 and tokens[i - 1] == "a")  # the verb it hangs on: "va a matarme"
        if moved and start >= 0 and tokens[start] not in CLITICS:
            verb, clitic = moved.groups()
            found.append(tokens[:start] + (clitic,) + tokens[start:i] + (verb,) + tokens[i + 1 :])
    return found


def spanish_variants(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The phrase said by several people, then each with its pronoun moved.

    "me pega" (he hits me) is also "me pegan" (they hit me); "me esta siguiendo", "me estan siguiendo".
    >>> spanish_variants(("me", "pega"))
    [('me', 'pegan')]
    """
    plural = tuple(word + "n" if i and tokens[i - 1] in CLITICS and len(word) >= 3 and word[-1] in "ae" else word
                   for i, word in enumerate(tokens))
    forms = [tokens] + ([plural] if plural != tokens else [])
    found = [variant for form in forms for variant in clitic_variants(form)]
    return forms[1:] + [variant for variant in dict.fromkeys(found) if variant not in forms]


STEMMER_NAMES = {"en": "english", "es": "spanish"}
SECTIONS = ("danger", "danger_alone", "topics", "context")
# Which sections match by stem. Spanish verb endings carry who does what to whom ("me quiere
# matar", he wants to kill me; "me quiero matar", I want to kill myself) and when ("me pega",
# "me pegaba"), so Spanish danger words and context match as written.
STEMMED = {"en": frozenset(SECTIONS), "es": frozenset({"topics"})}
VARIANTS = {"es": spanish_variants}


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


def _stemmer(lang: str) -> Callable[[list[str]], list[str]]:
    return Stemmer.Stemmer(STEMMER_NAMES[lang]).stemWords


@dataclass(frozen=True)
class Lexicon:
    """Every table the matcher needs, built once when the flows load."""

    commands: PhraseTable  # whole-text commands, exact: optout, menu, back, help, forget, english, spanish
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

    @classmethod
    def build(cls, tables: Mapping[str, Mapping]) -> Lexicon:
        """Build from the keyword tables, {language: table} as read from flows/keywords/."""
        commands: dict[str, list[str]] = {}
        numbers: dict[str, int] = {}
        markers: dict[str, frozenset[str]] = {}
        lockscreen: set[str] = set()
        shorthand: dict[str, tuple[str, ...]] = {}
        topic_language: dict[str, set[str]] = {}
        stems: dict[str, Stems] = {}
        vocabulary: set[str] = set()
        targets: dict[str, dict[str, None]] = {}
        outranks: dict[str, set[str]] = {}
        for lang, table in tables.items():
            for node, beaten in (table.get("outranks") or {}).items():
                outranks.setdefault(node, set()).update(beaten)
            for name, words in table.get("commands", {}).items():
                commands.setdefault(name, []).extend(words)
            stem, stemmed = _stemmer(lang), STEMMED.get(lang, frozenset())
            variants = VARIANTS.get(lang)
            sections = {}
            for section in SECTIONS:
                raw = table.get(section, {}) or {}
                if section == "topics" and table.get("others"):
                    raw = told_of_others(raw, table["others"])
                sections[section] = PhraseTable.build(raw, stem if section in stemmed else None, variants)
                targets.setdefault(section, {}).update(dict.fromkeys(raw))
                for phrases in raw.values():
                    for phrase in phrases:
                        words = normalize(str(phrase)).split()
                        for variant in variants(tuple(words)) if variants else ():
                            vocabulary.update(variant)  # "pegan" is a word, not a typo of "pagan"
                        vocabulary.update(words)
                        if section in ("danger", "topics"):
                            for word in words:
                                topic_language.setdefault(word, set()).add(lang)
            stems[lang] = Stems(stem, sections, stemmed)
            numbers.update({normalize(str(k)): int(v) for k, v in table.get("numbers", {}).items()})
            markers[lang] = frozenset(normalize(str(w)) for w in table.get("markers", ()))
            for short, long in (table.get("shorthand") or {}).items():
                shorthand[normalize(str(short))] = tuple(normalize(str(long)).split())
            for word in table.get("lockscreen", ()):
                word = str(word)
                lockscreen.add(normalize(word) + ("*" if word.endswith("*") else ""))
        command_table = PhraseTable.build(commands)
        vocabulary |= set(numbers) | command_table.words()
        vocabulary = vocabulary.union(*markers.values(), *shorthand.values())
        return cls(
            commands=command_table,
            stems=stems,
            numbers=numbers,
            markers=markers,
            topic_language={w: frozenset(langs) for w, langs in topic_language.items()},
            vocabulary=frozenset(vocabulary),
            lockscreen=frozenset(lockscreen),
            shorthand=shorthand,
            targets={section: tuple(nodes) for section, nodes in targets.items()},
            outranks={node: frozenset(beaten) for node, beaten in outranks.items()},
            _by_initial=_by_initial(vocabulary),
        )

    @classmethod
    def corrector(cls, vocabulary: Iterable[str]) -> Lexicon:
        """A lexicon that only mends typos toward these words (no tables)."""
        known = frozenset(vocabulary)
        return replace(cls.build({}), vocabulary=known, _by_initial=_by_initial(known))

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


def _by_initial(vocabulary: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Words long enough to be typo targets, by first letter: people rarely mistype the first."""
    index: dict[str, list[str]] = {}
    for word in sorted(vocabulary):
        if max_typos(word):
            index.setdefault(word[0], []).append(word)
    return {letter: tuple(words) for letter, words in index.items()}


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


# Reading a free text: danger first, then topics, with the context that changes them.

# Where context sends a text; flows.py checks that these nodes exist.
GENERIC_DANGER = "danger"  # danger words with no more to say; any more specific danger page wins over it
CHILD = "danger.child"  # danger, or someone taken, with a child or teen in the text
SELF_HARM = "danger.selfharm"  # never cancelled by "years ago"
YOUNG_HEALTH = "health.young"  # health questions from or about someone under 18
PAST_HARM = "out.counseling"  # danger words about the past: someone to talk to
SOLD = ("out.exit",)  # a teen telling this about themself is a child being sold, whatever else they say
ROUTES = (GENERIC_DANGER, CHILD, SELF_HARM, YOUNG_HEALTH, PAST_HARM, *SOLD)
NEGATION_WINDOW = 1  # only the word right before a danger phrase can cancel it
ALONE = 3  # a danger_alone phrase counts in a text of at most this many words
MINOR_AGES = range(10, 18)
FIRST_YEAR = 1950  # four digits from here to last year are a year, told as past


@dataclass(frozen=True)
class Reading:
    """What a text is about: a danger node (which always wins), else topics by score."""

    danger: str | None
    topics: tuple[tuple[str, int], ...]  # (node, score), best first


def _context(words: tuple[str, ...], lexicon: Lexicon,
             stemmed: Mapping[str, tuple[str, ...]] | None = None, year: int | None = None) -> dict[str, list[int]]:
    """The positions each context cue (negation, past, present, minor, age...) covers.

    A "now" inside "im ok now" says the person is safe, not that something happens now.
    A year before this one puts its sentence in the past ("he raped me back in 2019").
    """
    found: dict[str, list[int]] = {}
    for name, length, position in lexicon.hits_at("context", words, stemmed):
        found.setdefault(name, []).extend(range(position, position + length))
    if year is not None:  # a past year tells its whole sentence as past
        start = 0
        for i, word in enumerate((*words, BOUNDARY)):
            if word == BOUNDARY:
                sentence = words[start:i]
                if any(len(w) == 4 and w.isdigit() and FIRST_YEAR <= int(w) < year
                       and sentence[j - 1 : j] not in (("since",), ("desde",)) for j, w in enumerate(sentence)):
                    found.setdefault("past", []).extend(range(start, i))
                start = i + 1
    if "safe_now" in found and "present" in found:
        found["present"] = [p for p in found["present"] if p not in found["safe_now"]]
    return found


def teen_age(words: tuple[str, ...], cues: dict[str, list[int]], kinds: tuple[str, ...]) -> bool:
    """An age of 10-17 said as an age ("im 15", "a 14 yr old", "tengo 16"), by these cue kinds."""
    ages = {p for kind in kinds for p in cues.get(kind, ())}
    return any(word.isdigit() and int(word) in MINOR_AGES and any(j in ages for j in range(i - 2, i + 3))
               for i, word in enumerate(words))


def teen_self(words: tuple[str, ...], cues: dict[str, list[int]]) -> bool:
    """The texter says they are under 18: "im 15", "tengo 16", "im in 8th grade", "soy menor"."""
    return "minor_self" in cues or teen_age(words, cues, ("age_self",))


def mentions_minor(words: tuple[str, ...], cues: dict[str, list[int]]) -> bool:
    """A child or teen is in the text: a word for one, or an age of 10-17 said as an age.

    "im 15", "a 14 yr old", "tengo 16", "mi hija de 13" count; "2 kids" or "20 min" do not.
    """
    return "minor" in cues or "minor_self" in cues or teen_age(words, cues, ("age", "age_self"))


def _before(position: int, cues: dict[str, list[int]]) -> int:
    """The word that says who or what does the phrase at this position, fillers passed over
    ("not an emergency", "my feet are killing me", "my mom would literally kill me")."""
    before = position - NEGATION_WINDOW
    while before > 0 and before in cues.get("filler", ()):
        before -= 1
    return before


def asked(cues: dict[str, list[int]]) -> bool:
    """The text asks about danger rather than telling it: an `asking` cue and no `present` one."""
    return "asking" in cues and "present" not in cues


def negated(words: tuple[str, ...], position: int, cues: dict[str, list[int]]) -> bool:
    """The word just before this position negates it: "im not in danger", "no estoy en peligro".

    Articles and the like in between are passed over ("not an emergency"). Spanish "no"
    negates only a verb or pronoun after it ("no, me va a matar" is not negated). A thing
    as the one who does it cancels it too ("before it kills me", "esto me esta matando").
    """
    before = _before(position, cues)
    if before < 0:
        return False
    if before in cues.get("thing", ()):  # "before it kills me": a thing, not a person, does it
        return True
    if before not in cues.get("negation", ()):
        return False
    return words[before] != "no" or position in cues.get("after_no", ())


def figure_of_speech(words: tuple[str, ...], target: str, position: int, length: int,
                     cues: dict[str, list[int]]) -> bool:
    """Danger words used as a figure of speech, not danger.

    A `figure` right after them ("me quiero morir de la verguenza"); a `threat` made by
    someone `figurative` ("my mom would literally kill me if she knew"); or, for plain danger
    (never self-harm), a `joke` in the same sentence with no `present` there ("hes gonna kill
    me if i dont pay by friday lol"), or a text that `asks` about the subject with no
    `present` anywhere ("how do i know if my daughter is being groomed", "what counts as
    sexual assault").
    """
    if position + length in cues.get("figure", ()):
        return True
    threat = any(p in cues.get("threat", ()) for p in range(position, position + length))
    if threat and _before(position, cues) in cues.get("figurative", ()):  # "el casero me va a matar"
        return True
    if target == SELF_HARM:
        return False
    if asked(cues):
        return True

    def in_sentence(kind: str) -> bool:
        return any(BOUNDARY not in words[min(p, position):max(p, position + length)] for p in cues.get(kind, ()))

    return target == GENERIC_DANGER and in_sentence("joke") and not in_sentence("present")


PAST_WINDOW = 8  # a past cue this close to a danger phrase puts it in the past ...
PRESENT_WINDOW = 3  # ... unless a present cue stands this close to it


def in_the_past(words: tuple[str, ...], position: int, length: int, cues: dict[str, list[int]]) -> bool:
    """The danger phrase at this position is told as past ("he hit me years ago"), not now.

    Only cues in the phrase's own sentence count ("He used to hit me. Now I need a bed").
    """
    end = position + length

    def near(kind: str, window: int) -> bool:
        return any(position - window <= p <= end + window and BOUNDARY not in words[min(p, position):max(p, end)]
                   for p in cues.get(kind, ()))

    return near("past", PAST_WINDOW) and not near("present", PRESENT_WINDOW)


def read(words: tuple[str, ...], lexicon: Lexicon, year: int | None = None) -> Reading:
    """Danger, then topics, for a normalised and typo-corrected text (written in `year`)."""
    stemmed = lexicon.stem_all(words)
    cues = _context(words, lexicon, stemmed, year)
    minor = mentions_minor(words, cues)
    danger = None
    found = lexicon.hits_at("danger", words, stemmed)
    if len(set(words)) <= ALONE:  # "911", "911 911 911 911"
        found += lexicon.hits_at("danger_alone", words, stemmed)
    negated_spans = [range(p, p + n) for target, n, p in found
                     if negated(words, p, cues) or figure_of_speech(words, target, p, n, cues)]
    found = [hit for hit in found if not any(hit[2] in span for span in negated_spans)]
    covered = {p for _, n, start in found for p in range(start, start + n)}
    safe_from = min((p for p in cues.get("safe_now", ()) if p not in covered), default=None)
    hits, past_harm = [], False
    for target, length, position in found:
        # "i was in danger before but im ok now": said safe after the danger words
        recovered = safe_from is not None and position < safe_from
        past = in_the_past(words, position, length, cues)
        if target == SELF_HARM and not (past and recovered):  # "i used to ... but im better now"
            hits.append((target, length))
        elif past or recovered:
            past_harm = True
        else:
            hits.append((target, length))
    if hits:
        danger = max(hits, key=lambda hit: (hit[1], hit[0] == SELF_HARM))[0]
        specific = [hit for hit in hits if hit[0] not in (GENERIC_DANGER, SELF_HARM)]
        if danger == GENERIC_DANGER and specific:  # "he forced me, im bleeding": the assault page (it says 911 too)
            danger = max(specific, key=lambda hit: hit[1])[0]
        if danger != SELF_HARM and teen_self(words, cues):  # "im 15 and he wont let me go"
            danger = CHILD
    scores: dict[str, int] = {}
    for target, length, _ in lexicon.hits_at("topics", words, stemmed):
        if minor and target.startswith(YOUNG_HEALTH.split(".")[0]):
            target = YOUNG_HEALTH
        scores[target] = scores.get(target, 0) + length
    if past_harm and not scores:
        scores[PAST_HARM] = 1
    # "a 14 yr old girl with grown men" is told; "how do i know if my son is being groomed" is asked
    if danger in (None, GENERIC_DANGER) and minor and "taken" in cues and not asked(cues):
        danger = CHILD
    if danger is None and ("taken" in cues or any(node in scores for node in SOLD)) \
            and teen_self(words, cues):  # "im 15 and he says i owe him", "im 16 and my bf makes me see men"
        danger = CHILD
    ranked = sorted(scores.items(), key=lambda item: (-item[1], -item[0].count("."), item[0]))
    if ranked:  # "can my charges be erased? he made me do it": the request beats its background
        top, best = ranked[0]
        for i, (node, _) in enumerate(ranked[1:], start=1):
            if top in lexicon.outranks.get(node, ()):
                ranked.insert(0, (ranked.pop(i)[0], best + 1))
                break
    return Reading(danger, tuple(ranked))

