"""The conversation engine: one text in, the next state and the replies out.

`step` is pure: no Flask, no database, no clock. The caller reads the clock, persists the
state (in the texter's cookie) and turns replies into messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from bot import places
from bot.flows import Flows
from bot.matching import BOUNDARY, LANGUAGES, detect_language, menu_number, read, sentence_words

EXPIRY_SECONDS = 30 * 60
MAX_TEXT = 1600
TRAIL = 5  # how many steps BACK can retrace
GREETING_WORDS = 3  # a first text this short that matches nothing gets the welcome; longer, "didn't get that"


@dataclass(frozen=True)
class State:
    """All that is kept between texts: where the person is, their language, when they last wrote."""

    node: str
    lang: str
    at: int  # whole minutes since the epoch
    trail: tuple[str, ...] = ()
    offer: tuple[str, ...] = ()  # the nodes a "which one did you mean?" question offered
    campaign: str = ""  # the tag of the card word the conversation started with, for counting


@dataclass(frozen=True)
class Reply:
    """One reply: a node's text, the directory categories to list, then its menu."""

    node: str
    lang: str
    text: str
    resources: tuple[str, ...]
    menu: str
    near: str | None = None  # a town the person named: used for this reply only, never kept

    @property
    def topic(self) -> str:
        """The flow the reply comes from (what stats count)."""
        return self.node.split(".", 1)[0]


def fresh(state: State | None, flows: Flows, now: float) -> State | None:
    """The state, or None when it is missing, older than 30 minutes, or names a node now gone."""
    if state is None or now // 60 - state.at > EXPIRY_SECONDS // 60:
        return None
    if state.node not in flows.nodes or state.lang not in LANGUAGES:
        return None
    known = flows.nodes.keys()  # after a flow edit, forget steps that lead nowhere now
    if not (known >= set(state.trail) and known >= set(state.offer)):
        return replace(state, trail=tuple(n for n in state.trail if n in known),
                       offer=tuple(n for n in state.offer if n in known))
    return state


def _language(state: State | None, tokens: tuple[str, ...], text: str, flows: Flows) -> str:
    """Keep the conversation's language unless the text is clearly in the other one."""
    evidence = detect_language(tokens, text, flows.lexicon)
    best = max(evidence, key=lambda lang: (evidence[lang], lang == "en"))
    if state is None:
        return best if evidence[best] else "en"
    current = state.lang
    if best != current and evidence[best] >= 2 and evidence.get(current, 0) == 0:
        return best
    return current


def reply_for(flows: Flows, node_id: str, lang: str, lead: str = "") -> Reply:
    """The reply a node gives in a language (a lead line first, when given)."""
    node = flows.nodes[node_id]
    text = f"{lead}\n{node.say[lang]}" if lead else node.say[lang]
    menu_of = flows.welcome if node_id == "fallback" else node_id  # "didn't get that", then this line's menu
    return Reply(node_id, lang, text, node.resources, flows.menu(menu_of, lang))


def _go(state: State | None, node_id: str, lang: str, minute: int) -> State:
    if state is None:
        return State(node_id, lang, minute)
    trail = (state.trail + (state.node,))[-TRAIL:] if state.node != node_id else state.trail
    return State(node_id, lang, minute, trail, campaign=state.campaign)


def _close_call(topics: tuple[tuple[str, int], ...], flows: Flows, lang: str) -> tuple[str, ...]:
    """The two best topics when they tie and belong to different flows, else nothing.

    Only nodes a menu names can be offered: when the welcome ties with a topic, the topic wins.
    """
    if len(topics) < 2 or topics[0][1] != topics[1][1]:
        return ()
    first, second = topics[0][0], topics[1][0]
    if first.split(".", 1)[0] == second.split(".", 1)[0]:
        return ()
    titled = tuple(node for node in (first, second) if (node, lang) in flows.titles)
    return titled if len(titled) == 2 else titled[:1]


def _ask(flows: Flows, offer: tuple[str, ...], lang: str) -> Reply:
    lines = [f"{n} {flows.titles[(node, lang)]}" for n, node in enumerate(offer, start=1)]
    return Reply("ask", lang, flows.strings["did_you_mean"][lang], (),
                 "\n".join([*lines, flows.strings["footer"][lang]]))


def step(state: State | None, text: str, flows: Flows, now: float) -> tuple[State | None, tuple[Reply, ...]]:
    """Answer one text: the state to keep (None to keep nothing) and the replies to send."""
    state = fresh(state, flows, now)
    minute = int(now // 60)
    text = (text or "")[:MAX_TEXT]
    sentences = sentence_words(text)  # normalised, with BOUNDARY between sentences
    tokens = tuple(word for word in sentences if word != BOUNDARY)
    lexicon = flows.lexicon
    command = lexicon.commands.exact(tokens)
    if command == "optout":
        return None, ()

    campaign = flows.campaigns.get(" ".join(tokens)) if state is None else None
    if campaign is not None:
        start = State(campaign.start, campaign.lang, minute, campaign=campaign.tag)
        return start, (reply_for(flows, campaign.start, campaign.lang),)

    lang = _language(state, tokens, text, flows)
    corrected = lexicon.correct(sentences)
    words = tuple(word for word in corrected if word != BOUNDARY)
    reading = read(corrected, lexicon, time.gmtime(now).tm_year)
    if reading.danger is not None:
        return _go(state, reading.danger, lang, minute), (reply_for(flows, reading.danger, lang),)

    command = command or lexicon.commands.exact(words)
    if command == "forget":
        return None, (reply_for(flows, "forget", lang),)
    if command in ("english", "spanish"):
        lang = "en" if command == "english" else "es"
        node = state.node if state is not None else flows.welcome
        lead = flows.strings["language_set"][lang]
        return _go(state, node, lang, minute), (reply_for(flows, node, lang, lead),)
    if command == "menu" or tokens == ("0",):
        home = _go(state, flows.welcome, lang, minute)
        return replace(home, trail=()), (reply_for(flows, flows.welcome, lang),)
    if command == "back":
        trail = state.trail if state is not None else ()
        node = trail[-1] if trail else flows.welcome
        back = replace(_go(state, node, lang, minute), trail=trail[:-1])
        return back, (reply_for(flows, node, lang),)
    if command == "help":
        return _go(state, "help", lang, minute), (reply_for(flows, "help", lang),)

    if state is not None:  # with no conversation (or after 30 minutes), a number gets the welcome
        choice = menu_number(tokens, lexicon.numbers)
        choices = state.offer or tuple(o.goto for o in flows.nodes[state.node].options)
        if choice is not None and 1 <= choice <= len(choices):
            target = choices[choice - 1]
            return _go(state, target, lang, minute), (reply_for(flows, target, lang),)

    if state is not None and flows.nodes[state.node].ask == "place":
        place = places.resolve(text)
        if place is not None:
            lead = flows.strings["near_you"][lang].format(place=place.name)
            nearby = replace(reply_for(flows, state.node, lang, lead), near=place.name)
            return _go(state, state.node, lang, minute), (nearby,)

    offer = _close_call(reading.topics, flows, lang)
    if len(offer) == 1:  # a tie with a node no menu names
        return _go(state, offer[0], lang, minute), (reply_for(flows, offer[0], lang),)
    if offer:
        here = _go(state, state.node if state is not None else flows.welcome, lang, minute)
        return replace(here, offer=offer), (_ask(flows, offer, lang),)
    if reading.topics:
        target = reading.topics[0][0]
        return _go(state, target, lang, minute), (reply_for(flows, target, lang),)

    if state is None and len(set(words)) <= GREETING_WORDS:  # "hi", "who is this?"
        return State(flows.welcome, lang, minute), (reply_for(flows, flows.welcome, lang),)
    # Not understood: "didn't get that", 911 and 988 (a crisis said in words the line does
    # not know, "everything feels so heavy lately", still gets the crisis line), then the menu.
    return _go(state, flows.welcome, lang, minute), (reply_for(flows, "fallback", lang),)
