"""Text as the matcher sees it: lower case, no accents, apostrophes, punctuation or emoji,
letters squeezed; sentences; how many typos a word may carry; a menu number however written.

Pure functions; no Flask, no database, no clock."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

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


# A 10-digit US phone number, with the usual separators and an optional +1. The national
# 3-digit codes (911, 988) may be written in flows: they are the same everywhere.
PHONE_NUMBER = re.compile(r"(?<![\w-])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}(?![\w-])")
E164 = re.compile(r"\+[1-9]\d{7,14}")  # a number as Twilio writes it: + and 8 to 15 digits
US_NUMBER = re.compile(r"\+1([2-9]\d\d)([2-9]\d\d)(\d{4})")  # NANP: area code and exchange start 2-9


def readable(number: str) -> str:
    """An E.164 number as people read it: 860-555-0100 for a US number, as it is otherwise.

    >>> readable("+18605550100"), readable("+447700900123")
    ('860-555-0100', '+447700900123')
    """
    us = US_NUMBER.fullmatch(number)
    return "-".join(us.groups()) if us else number


def denied_words(text: str, denied: frozenset[str]) -> list[str]:
    """The denied words (a trailing * matches any word starting so) found as whole words in a text.

    >>> denied_words("Trafficked? Help for Sussex", frozenset({"sex", "traffick*"}))
    ['traffick*']
    """
    shown = f" {normalize(text)} "
    return sorted(w for w in denied if f" {w} " in shown or (w.endswith("*") and f" {w[:-1]}" in shown))
