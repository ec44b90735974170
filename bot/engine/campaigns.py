"""flows/campaigns.yaml: the card words (and what their printed cards say) and the deployment's
numbers, each with its welcome, its card words and the outreach team behind it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.engine.text import E164, PHONE_NUMBER, denied_words, normalize
from bot.engine.yamlfile import line_of, migrate, read_yaml
from bot.errors import FlowError

CAMPAIGNS_SPEC_VERSION = 1
CAMPAIGNS_FILE = "campaigns.yaml"


@dataclass(frozen=True)
class Campaign:
    """A word printed on a card: a first text with it starts at `start`, in `lang`, counted as `tag`."""

    word: str
    start: str
    lang: str
    tag: str
    card: Mapping[str, str] = field(default_factory=dict)  # {lang: the printed card's text}; {} for the default


@dataclass(frozen=True)
class Team:
    """The outreach team behind one of the deployment's numbers. Nothing here is about a texter."""

    name: str  # the program name the HELP reply gives
    on_call: str = ""  # the team's own number, offered to call or text in its hours
    hours: tuple[tuple[frozenset[int], int, int], ...] = ()  # (weekdays 0=Mon, opens, closes in minutes)
    region: tuple[str, ...] = ()  # towns whose local services are listed when a texter names no place
    after_hours: tuple[str, ...] = ()  # categories of 24/7 lines given when nobody is on call


@dataclass(frozen=True)
class Line:
    """One of the deployment's numbers: its own welcome, campaign words and team."""

    number: str
    welcome: str = "welcome"
    campaigns: tuple[str, ...] | None = None  # None: every campaign
    team: Team | None = None


def read_campaigns(path: Path, nodes: Collection[str], languages: tuple[str, ...], denied: frozenset[str]
                   ) -> tuple[dict[str, Campaign], dict[str, Line]]:
    """Read flows/campaigns.yaml (optional): card words and the deployment's numbers. A card's text
    may not name a `denied` word (the keyword tables' lock-screen words)."""
    if not path.exists():
        return {}, {}
    document = read_yaml(path)
    if not isinstance(document, Mapping):
        raise FlowError(path, "must be a mapping with spec_version, campaigns and lines")
    document = migrate(dict(document), path, CAMPAIGNS_SPEC_VERSION, {})
    campaigns: dict[str, Campaign] = {}
    for word, raw in (document.get("campaigns") or {}).items():
        campaign = _campaign(path, str(word), raw, nodes, languages, denied)
        campaigns[normalize(campaign.word)] = campaign
    lines = {str(number): _line(path, str(number), raw or {}, nodes, campaigns)
             for number, raw in (document.get("lines") or {}).items()}
    return campaigns, lines


def _campaign(path: Path, word: str, raw: Any, nodes: Collection[str], languages: tuple[str, ...],
              denied: frozenset[str]) -> Campaign:
    line = line_of(raw)
    key = normalize(word)
    if not isinstance(raw, Mapping) or not key or " " in key:
        raise FlowError(path, f"campaign '{word}' must be one word with start, lang and tag", line=line)
    start, lang, tag = raw.get("start"), raw.get("lang"), raw.get("tag")
    if start not in nodes:
        raise FlowError(path, f"campaign '{word}' starts at '{start}', which does not exist", line=line)
    if lang not in languages:
        raise FlowError(path, f"campaign '{word}' needs lang: one of {', '.join(languages)}", line=line)
    if not isinstance(tag, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", tag):
        raise FlowError(path, f"campaign '{word}' needs a tag of lower-case letters, digits and -", line=line)
    card = raw.get("card")  # the printed card's text (helpline card), in the campaign's language
    if card is not None and (not isinstance(card, Mapping) or not isinstance(card.get(lang), str)):
        raise FlowError(path, f"campaign '{word}' has a card without its '{lang}' text", line=line)
    for text_lang, text in (card or {}).items():
        _check_card(path, word, lang, text_lang, text, line_of(card) or line, denied)
    return Campaign(word, start, lang, tag, {k: v.strip() for k, v in (card or {}).items()})


def _check_card(path: Path, word: str, lang: str, text_lang: str, text: Any, at: int | None,
                denied: frozenset[str]) -> None:
    """A card's text: in the campaign's language, {word} and {number} only, no typed number, no topic word."""
    where = f"campaign '{word}' card ({text_lang})"
    if text_lang != lang or not isinstance(text, str) or not text.strip():
        raise FlowError(path, f"{where}: a card has one text, in the campaign's language ('{lang}')", line=at)
    if re.search(r"[{}]", re.sub(r"\{(?:word|number)\}", "", text)):
        raise FlowError(path, f"{where} may use {{word}} and {{number}} only", line=at)
    if PHONE_NUMBER.search(text):
        raise FlowError(path, f"{where} has a phone number typed in; write {{number}}", line=at)
    topic = denied_words(text.replace("{word}", word).replace("{number}", " "), denied)
    if topic:
        raise FlowError(path, f"{where} names the topic ({', '.join(topic)}); a card must not", line=at)


def _line(path: Path, number: str, raw: Mapping, nodes: Collection[str], campaigns: Mapping[str, Campaign]) -> Line:
    welcome = raw.get("welcome", "welcome")
    if welcome not in nodes:
        raise FlowError(path, f"line {number} welcomes with '{welcome}', which does not exist", line=line_of(raw))
    words = raw.get("campaigns")
    unknown = [w for w in words or () if normalize(str(w)) not in campaigns]
    if unknown:
        raise FlowError(path, f"line {number} names unknown campaign(s) {', '.join(map(str, unknown))}",
                        line=line_of(raw))
    team = _team(path, number, raw.get("team"), line_of(raw)) if raw.get("team") is not None else None
    return Line(number, welcome, None if words is None else tuple(map(str, words)), team)


_DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
_DAY = "(mo|tu|we|th|fr|sa|su)"
_SPAN = re.compile(rf"{_DAY}(?:-{_DAY})? ([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)")


def team_hours(text: str) -> tuple[tuple[frozenset[int], int, int], ...]:
    """Hours written as "Mo-Fr 09:00-17:00; Sa 10:00-14:00" (ValueError when not).

    >>> team_hours("Mo-Fr 09:00-17:00")
    ((frozenset({0, 1, 2, 3, 4}), 540, 1020),)
    """
    spans = []
    for part in filter(None, (p.strip() for p in text.casefold().split(";"))):
        match = _SPAN.fullmatch(part)
        if match is None:
            raise ValueError(f"'{part}' is not like 'Mo-Fr 09:00-17:00'")
        first, last, h1, m1, h2, m2 = match.groups()
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
        spans.append((days, int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)))
    return tuple(spans)


def _team(path: Path, number: Any, raw: Any, line: int | None) -> Team:
    """A line's team: name, on-call number and hours, region, after-hours lines."""
    def fail(problem: str) -> FlowError:
        return FlowError(path, f"line {number}: team {problem}", line=line_of(raw) or line)

    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise fail("needs a name (the program name HELP gives)")
    unknown = set(raw) - {"name", "on_call", "hours", "region", "after_hours"}
    if unknown:
        raise fail(f"has unknown field(s): {', '.join(sorted(unknown))}")
    on_call, hours = str(raw.get("on_call") or ""), raw.get("hours")
    if on_call and not E164.fullmatch(on_call):
        raise fail(f"on_call '{on_call}' must be a number like +18605550100")
    if bool(on_call) != bool(hours):
        raise fail("needs both on_call and hours, or neither")
    try:
        spans = team_hours(str(hours)) if hours else ()
    except ValueError as err:
        raise fail(f"hours: {err}") from None
    region, after = raw.get("region") or [], raw.get("after_hours") or []
    if not all(isinstance(x, str) and x.strip() for x in [*region, *after]):
        raise fail("region lists town names and after_hours directory categories")
    return Team(raw["name"].strip(), on_call, spans, tuple(region), tuple(after))
