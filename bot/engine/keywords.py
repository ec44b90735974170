"""Reading and checking the keyword tables (flows/keywords/<language>.yaml): sections, commands,
how the matcher reads the language, and that every phrase leads to one page that exists."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import Stemmer

from bot.engine.lexicon import GRAMMARS, SECTIONS
from bot.engine.text import normalize
from bot.engine.yamlfile import line_of, migrate, read_yaml
from bot.errors import FlowError

KEYWORDS_SPEC_VERSION = 1


COMMANDS = ("optout", "menu", "back", "help", "forget")


def keyword_table(path: Path, languages: tuple[str, ...]) -> tuple[str, dict]:
    document = read_yaml(path)
    if not isinstance(document, Mapping):
        raise FlowError(path, "must be a mapping with spec_version, language, commands, topics")
    document = migrate(dict(document), path, KEYWORDS_SPEC_VERSION, {})
    lang = document.get("language")
    if lang not in languages:
        raise FlowError(path, f"language must be one of the line's languages ({', '.join(languages)})", line=1)
    for section in ("commands", "danger", "topics", "danger_alone", "context", "shorthand", "outranks"):
        value = document.get(section)
        if section in ("danger_alone", "context", "shorthand", "outranks") and value is None:
            document[section] = {}
            continue
        if not isinstance(value, Mapping):
            raise FlowError(path, f"section '{section}' is missing", line=1)
        for key, words in value.items():
            if section == "shorthand":
                if not isinstance(words, str) or not words.strip():
                    raise FlowError(path, f"shorthand.{key} must be the words it stands for", line=line_of(value))
            elif not isinstance(words, list) or not words:
                raise FlowError(path, f"{section}.{key} must be a non-empty list", line=line_of(value))
    missing = [c for c in COMMANDS if c not in document["commands"]]
    if missing:
        raise FlowError(path, f"commands lack {', '.join(missing)}", line=line_of(document["commands"]))
    others = document.get("others")
    if others is not None and not (
            isinstance(others, Mapping) and isinstance(others.get("from"), str) and isinstance(others.get("to"), str)
            and isinstance(others.get("swap"), Mapping) and others["swap"]
            and all(isinstance(v, list) and v and all(isinstance(w, str) for w in v) for v in others["swap"].values())):
        raise FlowError(path, "others needs 'from' and 'to' node ids and 'swap': {word: [words, ...]}",
                        line=line_of(others) if isinstance(others, Mapping) else 1)
    _check_reading(path, document)
    return lang, document


def _check_reading(path: Path, table: Mapping) -> None:
    """How the matcher reads a language: a known stemmer and grammar, sections it has, switch words."""
    stemmer, stemmed, grammar = table.get("stemmer"), table.get("stemmed") or [], table.get("grammar")
    if stemmer is not None and stemmer not in Stemmer.algorithms():
        raise FlowError(path, f"stemmer '{stemmer}' is not one of {', '.join(Stemmer.algorithms())}", line=1)
    if not isinstance(stemmed, list) or not set(stemmed) <= set(SECTIONS) or (stemmed and not stemmer):
        raise FlowError(path, f"stemmed must list sections of {', '.join(SECTIONS)}, with a stemmer", line=1)
    if grammar is not None and grammar not in GRAMMARS:
        raise FlowError(path, f"grammar '{grammar}' is not one of {', '.join(GRAMMARS)}", line=1)
    switch = table.get("switch")
    if not isinstance(switch, list) or not switch or not all(isinstance(w, str) and normalize(w) for w in switch):
        raise FlowError(path, "switch must list the words that switch a conversation to this language", line=1)


def check_keywords(tables: Mapping[str, tuple[Path, dict]], nodes: Collection[str], directory: Path,
                    languages: tuple[str, ...]) -> None:
    seen: dict[str, tuple[str, Path]] = {}  # across both tables: they are merged when the line runs
    for path, table in tables.values():
        for section in ("danger", "danger_alone", "topics"):
            for target in table[section]:
                if target not in nodes:
                    raise FlowError(path, f"{section} lead to node '{target}', which does not exist",
                                    line=line_of(table[section]))
        others = table.get("others") or {}
        for node in (others.get("from"), others.get("to")) if others else ():
            if node not in table["topics"]:
                raise FlowError(path, f"others names '{node}', which no topic words lead to", line=line_of(others))
        for target, beaten in table["outranks"].items():
            for node in (target, *beaten):
                if node not in table["topics"] and not any(node in t["topics"] for _, t in tables.values()):
                    raise FlowError(path, f"outranks names '{node}', which no topic words lead to",
                                    line=line_of(table["outranks"]))
        for target, phrases in table["topics"].items():
            for phrase in phrases:
                key = normalize(str(phrase))
                if not key:
                    raise FlowError(path, f"topics.{target} has an empty phrase", line=line_of(table["topics"]))
                first, where = seen.setdefault(key, (target, path))
                if first != target:
                    also = "" if where == path else f" (in {where.name})"
                    raise FlowError(path, f"'{phrase}' leads to both '{first}'{also} and '{target}'",
                                    line=line_of(table["topics"]))
    missing = [lang for lang in languages if lang not in tables]
    if missing:
        raise FlowError(directory / "keywords", f"no keyword table for {', '.join(missing)}")
