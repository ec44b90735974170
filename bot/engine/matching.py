"""Reading a free text with the keyword tables: danger first, then topics, with the context
that changes them (negation, the past, a figure of speech, a question, a minor).

Pure functions over prebuilt tables; no Flask, no database, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.engine.lexicon import Lexicon, Routes
from bot.engine.text import BOUNDARY

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
                     cues: dict[str, list[int]], routes: Routes) -> bool:
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
    if target == routes.self_harm:
        return False
    if asked(cues):
        return True

    def in_sentence(kind: str) -> bool:
        return any(BOUNDARY not in words[min(p, position):max(p, position + length)] for p in cues.get(kind, ()))

    return target == routes.danger and in_sentence("joke") and not in_sentence("present")


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
    routes = lexicon.routes
    stemmed = lexicon.stem_all(words)
    cues = _context(words, lexicon, stemmed, year)
    minor = mentions_minor(words, cues)
    hits, past_harm = _danger_hits(words, lexicon, stemmed, cues)
    danger = _danger_page(hits, words, cues, routes)
    scores: dict[str, int] = {}
    for target, length, _ in lexicon.hits_at("topics", words, stemmed):
        target = routes.for_minor(target) if minor else target
        scores[target] = scores.get(target, 0) + length
    if past_harm and not scores and routes.past_harm:
        scores[routes.past_harm] = 1
    if routes.child and _child_told(danger, minor, scores, words, cues, routes):
        danger = routes.child
    ranked = sorted(scores.items(), key=lambda item: (-item[1], -item[0].count("."), item[0]))
    if ranked:  # "can my charges be erased? he made me do it": the request beats its background
        top, best = ranked[0]
        for i, (node, _) in enumerate(ranked[1:], start=1):
            if top in lexicon.outranks.get(node, ()):
                ranked.insert(0, (ranked.pop(i)[0], best + 1))
                break
    return Reading(danger, tuple(ranked))


def _danger_hits(words: tuple[str, ...], lexicon: Lexicon, stemmed: Mapping[str, tuple[str, ...]],
                 cues: dict[str, list[int]]) -> tuple[list[tuple[str, int]], bool]:
    """(page, length) of the danger phrases told as now, and whether some were told as past."""
    routes = lexicon.routes
    found = lexicon.hits_at("danger", words, stemmed)
    if len(set(words)) <= ALONE:  # "911", "911 911 911 911"
        found += lexicon.hits_at("danger_alone", words, stemmed)
    negated_spans = [range(p, p + n) for target, n, p in found
                     if negated(words, p, cues) or figure_of_speech(words, target, p, n, cues, routes)]
    found = [hit for hit in found if not any(hit[2] in span for span in negated_spans)]
    covered = {p for _, n, start in found for p in range(start, start + n)}
    safe_from = min((p for p in cues.get("safe_now", ()) if p not in covered), default=None)
    hits, past_harm = [], False
    for target, length, position in found:
        # "i was in danger before but im ok now": said safe after the danger words
        recovered = safe_from is not None and position < safe_from
        past = in_the_past(words, position, length, cues)
        if target == routes.self_harm and not (past and recovered):  # "i used to ... but im better now"
            hits.append((target, length))
        elif past or recovered:
            past_harm = True
        else:
            hits.append((target, length))
    return hits, past_harm


def _danger_page(hits: list[tuple[str, int]], words: tuple[str, ...], cues: dict[str, list[int]],
                 routes: Routes) -> str | None:
    """The page for the danger phrases found: the longest, the specific over the generic one."""
    if not hits:
        return None
    danger = max(hits, key=lambda hit: (hit[1], hit[0] == routes.self_harm))[0]
    specific = [hit for hit in hits if hit[0] not in (routes.danger, routes.self_harm)]
    if danger == routes.danger and specific:  # "he forced me, im bleeding": the assault page (it says 911 too)
        danger = max(specific, key=lambda hit: hit[1])[0]
    if danger != routes.self_harm and routes.child and teen_self(words, cues):  # "im 15 and he wont let me go"
        danger = routes.child
    return danger


def _child_told(danger: str | None, minor: bool, scores: Mapping[str, int], words: tuple[str, ...],
                cues: dict[str, list[int]], routes: Routes) -> bool:
    """A child in danger told without danger words: someone young taken, or a teen being sold."""
    # "a 14 yr old girl with grown men" is told; "how do i know if my son is being groomed" is asked
    if danger in (None, routes.danger) and minor and "taken" in cues and not asked(cues):
        return True
    return danger is None and ("taken" in cues or any(node in scores for node in routes.sold)) \
        and teen_self(words, cues)  # "im 15 and he says i owe him", "im 16 and my bf makes me see men"
