"""Load flows/*.yaml and flows/keywords/*.yaml into typed objects, validating as they load.

A flow that does not validate never serves: every problem is a FlowError naming the file,
the line, the node and what is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.engine.campaigns import CAMPAIGNS_FILE, Campaign, Line, Team, read_campaigns
from bot.engine.keywords import check_keywords, keyword_table
from bot.engine.lexicon import ROUTE_NAMES, Lexicon, Routes
from bot.engine.model import MODEL_FILE, TextModel
from bot.engine.text import PHONE_NUMBER
from bot.engine.yamlfile import line_of, migrate, read_yaml
from bot.errors import FlowError

SPECIAL_NODES = ("welcome", "fallback", "help", "forget")
REQUIRED_STRINGS = (
    "footer", "near_you", "no_local", "ask_place", "place_outside", "place_unknown",
    "call", "call_or_text", "text", "text_only", "tty", "or", "language_set", "did_you_mean",
    "open_24_7", "open_now", "opens_today", "opens_on", "weekdays",
    "feature_free", "feature_confidential", "feature_no_id", "feature_walk_in", "feature_spanish",
)
MAX_OPTIONS = 9
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # ISO 639: en, es, pt, hat


@dataclass(frozen=True)
class Option:
    goto: str
    label: Mapping[str, str]


@dataclass(frozen=True)
class Node:
    id: str
    path: str
    line: int | None
    say: Mapping[str, str]
    resources: tuple[str, ...]
    options: tuple[Option, ...]
    always_answered: bool = False  # answered past the flood limit (within a limit of its own): danger pages
    route: str = ""  # where the keyword rules send a kind of reading (lexicon.ROUTE_NAMES); "" for none
    for_minors: tuple[str, ...] = ()  # with route "minors": the topics (flows or pages) under-18s asking go here

    @property
    def topic(self) -> str:
        """The flow file the node lives in (its topic for counting)."""
        return Path(self.path).stem


@dataclass(frozen=True)
class Flows:
    nodes: Mapping[str, Node]
    strings: Mapping[str, Mapping[str, str]]
    lexicon: Lexicon
    menus: Mapping[tuple[str, str], str]  # (node, language) -> option lines and footer
    titles: Mapping[tuple[str, str], str]  # (node, language) -> the label of an option leading there
    campaigns: Mapping[str, Campaign] = field(default_factory=dict)  # normalised word -> campaign
    lines: Mapping[str, Line] = field(default_factory=dict)  # the line's number -> its settings
    welcome: str = "welcome"  # this line's main menu
    model: TextModel | None = None  # the learned reading beside the keyword tables (flows/model.npz), if any
    languages: tuple[str, ...] = ()  # the line's languages (welcome.yaml), the first the default
    team: Team | None = None  # the team of the number this variant answers (for_line)

    @cached_property
    def always_answered(self) -> frozenset[str]:
        """The pages answered past the flood limit (`always_answered: true`)."""
        return frozenset(node.id for node in self.nodes.values() if node.always_answered)

    def menu(self, node: str, lang: str) -> str:
        """The numbered options (and footer) shown under a node's text."""
        return self.menus[(node, lang)]

    def for_line(self, number: str) -> Flows:
        """The flows as one of the deployment's numbers answers them (the default for others)."""
        line = self.lines.get(number)
        if line is None:
            return self
        return self._variants[number]

    @cached_property
    def _variants(self) -> dict[str, Flows]:
        variants = {}
        for number, line in self.lines.items():
            campaigns = {k: c for k, c in self.campaigns.items()
                         if line.campaigns is None or c.word in line.campaigns}
            variants[number] = replace(self, campaigns=campaigns, lines={}, welcome=line.welcome, team=line.team)
        return variants


def _languages(value: Any, path: Path, node: str, what: str, line: int | None,
               languages: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise FlowError(path, f"{what} must have {' and '.join(repr(lang) for lang in languages)} texts", line=line,
                        node=node)
    texts = {}
    for lang in languages:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise FlowError(path, f"{what} has no '{lang}' text", line=line_of(value) or line, node=node)
        if PHONE_NUMBER.search(text):
            raise FlowError(
                path,
                f"{what} ({lang}) has a phone number typed in; name a resource category instead",
                line=line_of(value) or line,
                node=node,
            )
        texts[lang] = text.strip()
    return texts


def _node(node_id: str, raw: Any, path: Path, languages: tuple[str, ...]) -> Node:
    line = line_of(raw)
    if not isinstance(raw, Mapping):
        raise FlowError(path, "must be a mapping with 'say'", node=node_id)
    unknown = set(raw) - {"say", "resources", "options", "always_answered", "route", "for_minors"}
    if unknown:
        raise FlowError(path, f"unknown field(s): {', '.join(sorted(unknown))}", line=line, node=node_id)
    say = _languages(raw.get("say"), path, node_id, "say", line, languages)
    resources = raw.get("resources", []) or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise FlowError(path, "resources must be a list of category names", line=line, node=node_id)
    raw_options = raw.get("options", []) or []
    if not isinstance(raw_options, list):
        raise FlowError(path, "options must be a list", line=line, node=node_id)
    if len(raw_options) > MAX_OPTIONS:
        raise FlowError(path, f"has {len(raw_options)} options; at most {MAX_OPTIONS}", line=line, node=node_id)
    options = []
    for number, option in enumerate(raw_options, start=1):
        if not isinstance(option, Mapping) or not isinstance(option.get("goto"), str):
            raise FlowError(path, f"option {number} needs a 'goto' node id", line=line, node=node_id)
        label = _languages(option.get("label"), path, node_id, f"option {number} label", line_of(option), languages)
        options.append(Option(option["goto"], label))
    always, route, for_minors = raw.get("always_answered", False), raw.get("route", ""), raw.get("for_minors", [])
    if not isinstance(always, bool):
        raise FlowError(path, "always_answered must be true or false", line=line, node=node_id)
    if route not in ("", *ROUTE_NAMES):
        raise FlowError(path, f"route must be one of {', '.join(ROUTE_NAMES)}", line=line, node=node_id)
    if not isinstance(for_minors, list) or not all(isinstance(t, str) for t in for_minors) \
            or bool(for_minors) != (route == "minors"):
        raise FlowError(path, "a page with route 'minors' lists the topics it answers for under-18s in for_minors "
                        "(and only such a page)", line=line, node=node_id)
    return Node(node_id, str(path), line, say, tuple(resources), tuple(options), always, route, tuple(for_minors))


def _routes(nodes: Mapping[str, Node], directory: Path) -> Routes:
    """The routes the pages carry; each but `sold` on one page at most."""
    named: dict[str, list[Node]] = {}
    for node in nodes.values():
        if node.route:
            named.setdefault(node.route, []).append(node)
    for route, pages in named.items():
        if len(pages) > 1 and route != "sold":
            raise FlowError(pages[1].path, f"route '{route}' is also on page '{pages[0].id}'", line=pages[1].line,
                            node=pages[1].id)
    one = {route: pages[0].id for route, pages in named.items()}
    minors = {topic: one["minors"] for topic in nodes[one["minors"]].for_minors} if "minors" in one else {}
    return Routes(one.get("danger"), one.get("child"), one.get("self_harm"), one.get("past_harm"),
                  tuple(node.id for node in named.get("sold", ())), minors)


def _check_graph(nodes: Mapping[str, Node], directory: Path, roots: tuple[str, ...] = ("welcome",)) -> None:
    for node in nodes.values():
        for number, option in enumerate(node.options, start=1):
            if option.goto not in nodes:
                raise FlowError(node.path, f"option {number} goes to '{option.goto}', which does not exist",
                                line=node.line, node=node.id)
    for special in SPECIAL_NODES:
        if special not in nodes:
            raise FlowError(directory / "welcome.yaml", f"the special node '{special}' is missing")
    reachable, todo = set(), list(roots)
    while todo:
        current = todo.pop()
        if current not in reachable:
            reachable.add(current)
            todo.extend(o.goto for o in nodes[current].options)
    for node in nodes.values():
        if node.id not in reachable and node.id not in SPECIAL_NODES:
            raise FlowError(node.path, "cannot be reached from a welcome menu", line=node.line, node=node.id)


def _menus(nodes: Mapping[str, Node], strings: Mapping[str, Mapping[str, str]], languages: tuple[str, ...]) -> dict:
    menus = {}
    for node in nodes.values():
        for lang in languages:
            lines = [f"{n} {o.label[lang]}" for n, o in enumerate(node.options, start=1)]
            if node.id not in ("welcome", "fallback") and not node.id.startswith("welcome."):
                lines.append(strings["footer"][lang])
            menus[(node.id, lang)] = "\n".join(lines)
    return menus


def _check_line_strings(nodes: Mapping[str, Node], strings: Mapping[str, Mapping[str, str]],
                        lines: Mapping[str, Line], directory: Path) -> None:
    """The strings a line's texts call for: `program` where a page says {program}, and what is
    said of an on-call team."""
    if "program" not in strings and any("{program}" in text for node in nodes.values() for text in node.say.values()):
        raise FlowError(directory / "welcome.yaml", "a page says {program}: strings need 'program', the line's name")
    if any(line.team and line.team.on_call for line in lines.values()):
        missing = [name for name in ("on_call_now", "on_call_back") if name not in strings]
        if missing:
            raise FlowError(directory / "welcome.yaml",
                            f"a line has an on-call team: strings need {', '.join(missing)}")


def _titles(nodes: Mapping[str, Node], languages: tuple[str, ...]) -> dict[tuple[str, str], str]:
    titles: dict[tuple[str, str], str] = {}
    for node in nodes.values():
        for option in node.options:
            for lang in languages:
                titles.setdefault((option.goto, lang), option.label[lang])
    return titles


def _documents(directory: Path) -> list[tuple[Path, dict]]:
    """The flow files of a folder (not the campaigns), read and brought to the current spec version."""
    files = sorted(p for p in directory.glob("*.yaml") if p.name != CAMPAIGNS_FILE)
    if not files:
        raise FlowError(directory, "no flow files (*.yaml) found")
    documents = []
    for path in files:
        document = read_yaml(path)
        if not isinstance(document, Mapping):
            raise FlowError(path, "must be a mapping with spec_version and nodes")
        documents.append((path, migrate(dict(document), path)))
    return documents


def _line_languages(documents: list[tuple[Path, dict]], directory: Path) -> tuple[str, ...]:
    """The line's languages, from the file with the welcome (`languages: [en, es]`; the first is
    the one a conversation starts in when a text does not show its language)."""
    listed = [(path, document) for path, document in documents if "languages" in document]
    if len(listed) != 1:
        raise FlowError(directory / "welcome.yaml", "one flow file (the welcome's) must list the languages: "
                        "languages: [en, es]" if not listed else f"languages are also listed in {listed[1][0]}")
    path, document = listed[0]
    languages = document["languages"]
    if not isinstance(languages, list) or not languages or \
            not all(isinstance(lang, str) and LANGUAGE_CODE.fullmatch(lang) for lang in languages):
        raise FlowError(path, "languages must list language codes like en, es, pt", line=line_of(document) or 1)
    return tuple(languages)


def _read_nodes(directory: Path) -> tuple[tuple[str, ...], dict[str, Node], dict[str, Mapping[str, str]]]:
    """The languages, and every node and string of the flow files in a folder (not the campaigns)."""
    documents = _documents(directory)
    languages = _line_languages(documents, directory)
    nodes: dict[str, Node] = {}
    strings: dict[str, Mapping[str, str]] = {}
    for path, document in documents:
        raw_nodes = document.get("nodes")
        if not isinstance(raw_nodes, Mapping) or not raw_nodes:
            raise FlowError(path, "has no nodes", line=1)
        for node_id, raw in raw_nodes.items():
            node_id = str(node_id)
            if node_id in nodes:
                raise FlowError(path, f"is also defined in {nodes[node_id].path}", line=line_of(raw), node=node_id)
            nodes[node_id] = _node(node_id, raw, path, languages)
        for name, texts in (document.get("strings") or {}).items():
            strings[name] = _languages(texts, path, "", f"string '{name}'", line_of(texts), languages)
    return languages, nodes, strings


def no_common_words(vocabulary: Iterable[str], languages: Iterable[str]) -> frozenset[str]:
    """No list of common words: every unknown word near a keyword is taken for a typo of it."""
    return frozenset()


def load_flows(directory: Path | str,
               common_words: Callable[[Iterable[str], Iterable[str]], frozenset[str]] = no_common_words) -> Flows:
    """Read and validate every flow and keyword table under a folder; raise FlowError on any fault.

    `common_words` gives, for the keyword tables' words and the line's languages, the real words
    typo correction must leave alone (`bot.tables.common_words` builds them from wordfreq).
    """
    directory = Path(directory)
    languages, nodes, strings = _read_nodes(directory)
    missing = [s for s in REQUIRED_STRINGS if s not in strings]
    if missing:
        raise FlowError(directory / "welcome.yaml", f"strings lack {', '.join(missing)}")
    tables = {}
    for path in sorted((directory / "keywords").glob("*.yaml")):
        lang, table = keyword_table(path, languages)
        tables[lang] = (path, table)
    check_keywords(tables, nodes, directory, languages)
    lexicon = Lexicon.build({lang: tables[lang][1] for lang in languages})
    campaigns, lines = read_campaigns(directory / CAMPAIGNS_FILE, nodes, languages, lexicon.lockscreen)
    _check_line_strings(nodes, strings, lines, directory)
    _check_graph(nodes, directory, ("welcome", *(line.welcome for line in lines.values())))
    lexicon = replace(lexicon, known=common_words(lexicon.vocabulary, languages), routes=_routes(nodes, directory))
    for key, campaign in campaigns.items():
        words = tuple(key.split())
        if lexicon.commands.exact(words) or lexicon.hits_at("danger", words) or lexicon.hits_at("danger_alone", words):
            raise FlowError(directory / CAMPAIGNS_FILE, f"campaign word '{campaign.word}' is already a command or "
                            "a danger word, which must keep working from a first text")
    model = _model(directory / MODEL_FILE, nodes)
    return Flows(nodes, strings, lexicon, _menus(nodes, strings, languages), _titles(nodes, languages), campaigns,
                 lines, model=model, languages=languages)


def _model(path: Path, nodes: Mapping[str, Node]) -> TextModel | None:
    """The text model beside the flows, None when there is none; FlowError when it does not fit them."""
    if not path.exists():
        return None
    try:
        model = TextModel.load(path)
    except ValueError as err:
        raise FlowError(path, str(err).removeprefix(f"{path}: ")) from None
    unknown = sorted(set(model.labels) - set(nodes))
    if unknown:
        raise FlowError(path, f"the model answers with nodes the flows lack: {', '.join(unknown)}; "
                        "retrain it with python -m bot.train")
    return model
