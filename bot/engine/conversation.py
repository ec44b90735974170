"""The conversation engine: one text in, the next state and the replies out.

`step` is pure: no Flask, no database, no files, no clock. The caller reads the clock, passes
in what was built at start (the flows, the place resolver), persists the state (in the
texter's cookie) and turns replies into messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

from rapidfuzz.distance import OSA

from bot.engine.campaigns import Campaign
from bot.engine.flows import Flows
from bot.engine.lexicon import SWITCH, detect_language
from bot.engine.matching import Reading, read
from bot.engine.model import Guess, is_danger
from bot.engine.places import Place, Places, outside
from bot.engine.text import BOUNDARY, menu_number, sentence_words

EXPIRY_SECONDS = 30 * 60
MAX_TEXT = 1600
TRAIL = 5  # how many steps BACK can retrace
MODEL_WORDS = 3  # danger in one or two words ("no se", "goodbye", "pls") is the keyword rules' to read
SURE = 0.5  # the model's probability above which its "welcome" answers a question about the line
PLACE_WORDS = 3  # on a page that lists services, this few words the line does not know are a place it does not know
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
    outside: bool = False  # the person named a place outside Connecticut: national lines only
    by: str = ""  # what understood the text: "rules" (keyword tables), "model" (the text model), or "" (no free text)

    @property
    def topic(self) -> str:
        """The flow the reply comes from (what stats count)."""
        return self.node.split(".", 1)[0]


def fresh(state: State | None, flows: Flows, now: float) -> State | None:
    """The state, or None when it is missing, older than 30 minutes, or names a node now gone."""
    if state is None or now // 60 - state.at > EXPIRY_SECONDS // 60:
        return None
    if state.node not in flows.nodes or state.lang not in flows.languages:
        return None
    known = flows.nodes.keys()  # after a flow edit, forget steps that lead nowhere now
    if not (known >= set(state.trail) and known >= set(state.offer)):
        return replace(state, trail=tuple(n for n in state.trail if n in known),
                       offer=tuple(n for n in state.offer if n in known))
    return state


def _language(state: State | None, tokens: tuple[str, ...], text: str, flows: Flows) -> str:
    """Keep the conversation's language unless the text is clearly in the other one."""
    evidence = detect_language(tokens, text, flows.lexicon)
    default = flows.languages[0]  # the line's first language: when a text does not show its own
    best = max(evidence, key=lambda lang: (evidence[lang], lang == default))
    if state is None:
        return best if evidence[best] else default
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


def _placed(flows: Flows, node_id: str, lang: str, text: str, finder: Callable[[str], Place | None]
            ) -> Reply | None:
    """A node's reply for the place a text names: near a Connecticut town, or outside the
    state (national lines only); None when it names no place."""
    if outside(text):
        return replace(reply_for(flows, node_id, lang), outside=True)
    place = finder(text)
    return replace(reply_for(flows, node_id, lang), near=place.name) if place is not None else None


def _options(flows: Flows, node_id: str) -> tuple[str, ...]:
    node = flows.nodes.get(node_id)
    return tuple(o.goto for o in node.options) if node is not None else ()


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


@dataclass(frozen=True)
class Choice:
    """Where free text leads: a node, or two to offer, and which part decided."""

    node: str | None = None
    offer: tuple[str, ...] = ()
    by: str = ""


def _share(guess: Guess, node: str) -> float:
    """The model's probability for a node: its own label's, those above it and those below it."""
    return sum(p for label, p in guess.ranked
               if label == node or node.startswith(label + ".") or label.startswith(node + "."))


def model_danger(guess: Guess | None, flows: Flows) -> str | None:
    """The danger page the model reads in a text, if its danger probability reaches the threshold."""
    if guess is None or guess.danger < flows.model.thresholds.get("danger", 1.0):
        return None
    return next((label for label, _ in guess.ranked if is_danger(label) and label in flows.nodes), None)


def understand(topics: tuple[tuple[str, int], ...], guess: Guess | None, words: int, flows: Flows, lang: str,
               middle: bool) -> Choice:
    """The one decision rule for free text (docs/understanding.md), once neither the rules nor the
    model (`model_danger`, for texts of MODEL_WORDS words or more) found danger.

    1. When the rules found two topics of different flows equally, "which one did you mean?".
    2. A topic from the rules, unless the model is sure of another one (its probability reaches
       "overrule" and the rules' topic has less than "close" times it).
    3. Else, in a text of MODEL_WORDS words or more, the model's likeliest page, when its flow's
       pages together reach "topic" ("report" and "report.signs" add up) and outweigh danger;
       "which one did you mean?" when the second page, of another flow, has "close" times its
       probability or more. In the middle of a conversation, a question about the line itself
       ("is this private?", "es privado?") gets the welcome.
    4. Else nothing: the caller answers with the welcome or "didn't get that".
    """
    model = flows.model
    thresholds = model.thresholds if model is not None else {}
    pages = [(label, p) for label, p in guess.ranked if not is_danger(label)] if guess is not None else []
    offer = _close_call(topics, flows, lang)  # two requests named: the person is asked, not guessed for
    if len(offer) == 1:  # a tie with a node no menu names
        return Choice(offer[0], by="rules")
    if offer:
        return Choice(offer=offer, by="rules")
    if topics and len(pages) >= 2:  # the rules found a topic: the model overrules them only when sure
        label, p_label = pages[0]
        behind = _share(guess, topics[0][0]) < thresholds.get("close", 0.7) * p_label
        if p_label >= thresholds.get("overrule", 1.01) and behind and label != "welcome" and label in flows.nodes:
            return Choice(label, by="model")
    if topics:
        return Choice(topics[0][0], by="rules")
    if len(pages) < 2 or words < 2:
        return Choice()
    return _model_page(pages, guess, words, flows, lang, middle)


def _model_page(pages: list[tuple[str, float]], guess: Guess, words: int, flows: Flows, lang: str,
                middle: bool) -> Choice:
    """Step 3 of `understand`: the model's likeliest page, a question between two, or nothing."""
    thresholds = flows.model.thresholds if flows.model is not None else {}
    (first, p_first), (second, p_second) = pages[:2]
    flow = sum(p for label, p in pages if label.split(".", 1)[0] == first.split(".", 1)[0])
    if flow < thresholds.get("topic", 1.01) or flow < guess.danger or first not in flows.nodes:
        return Choice()  # unsure, or likelier danger than this page: "didn't get that" with 911 and 988
    if first == "welcome":  # a question about the line; a first text gets the welcome anyway
        sure = middle and p_first >= SURE  # "es privado?", not "asdf" or "???"
        return Choice(flows.welcome, by="model") if sure else Choice()
    if words < MODEL_WORDS:  # "scared", "si si": too little for the model to name a page
        return Choice()
    pair = _close_call(((first, 1), (second, 1)), flows, lang) if p_second >= thresholds.get("close", 0.7) * p_first \
        else ()
    if len(pair) == 2:
        return Choice(offer=pair, by="model")
    return Choice(first, by="model")


CARD_TYPO_LENGTH = 5  # a card word written with one typo is still the card word from this many letters


def card_word(tokens: tuple[str, ...], flows: Flows) -> tuple[Campaign, tuple[str, ...]] | None:
    """A card word opening a first text, with the words after it; one typo allowed when it is the whole text.

    Only a word no common-word list knows is taken for a misspelt card word ("save" is not "safe").
    """
    for key, campaign in flows.campaigns.items():
        size = key.count(" ") + 1
        head = " ".join(tokens[:size])
        if head == key or (len(tokens) == size and len(head) >= CARD_TYPO_LENGTH and OSA.distance(head, key) <= 1
                           and head not in flows.lexicon.known and head not in flows.lexicon.vocabulary):
            return campaign, tokens[size:]  # a typo only in a text that is the card word alone ("SEGRUA")
    return None


def _ask(flows: Flows, offer: tuple[str, ...], lang: str) -> Reply:
    lines = [f"{n} {flows.titles[(node, lang)]}" for n, node in enumerate(offer, start=1)]
    return Reply("ask", lang, flows.strings["did_you_mean"][lang], (),
                 "\n".join([*lines, flows.strings["footer"][lang]]))


@dataclass(frozen=True)
class Context:
    """What `step` needs besides the flows, built once at start (`bot.tables.context`)."""

    places: Places


@dataclass(frozen=True)
class Text:
    """One text as the engine reads it: its words, the keyword rules' reading, its language."""

    raw: str
    tokens: tuple[str, ...]  # normalised words
    words: tuple[str, ...]  # the same, typos corrected
    reading: Reading
    command: str | None
    lang: str
    minute: int
    guess: Callable[[], Guess | None]  # the model's reading, made at most once and only when needed

    @property
    def distinct(self) -> int:
        return len(set(self.words))


def _read_text(state: State | None, raw: str, flows: Flows, now: float) -> Text:
    sentences = sentence_words(raw)  # normalised, with BOUNDARY between sentences
    tokens = tuple(word for word in sentences if word != BOUNDARY)
    lexicon = flows.lexicon
    corrected = lexicon.correct(sentences)
    words = tuple(word for word in corrected if word != BOUNDARY)
    command = lexicon.commands.exact(tokens) or lexicon.commands.exact(words)
    guess = cache(lambda: flows.model.guess(raw) if flows.model is not None else None)
    return Text(raw, tokens, words, read(corrected, lexicon, time.gmtime(now).tm_year), command,
                _language(state, tokens, raw, flows), int(now // 60), guess)


def step(state: State | None, text: str, flows: Flows, context: Context, now: float
         ) -> tuple[State | None, tuple[Reply, ...]]:
    """Answer one text: the state to keep (None to keep nothing) and the replies to send.

    Pure: the answer depends on the arguments only (`now` is seconds since the epoch).
    """
    state = fresh(state, flows, now)
    raw = (text or "")[:MAX_TEXT]
    tokens = tuple(word for word in sentence_words(raw) if word != BOUNDARY)
    if flows.lexicon.commands.exact(tokens) == "optout":
        return None, ()
    if state is None:
        opened = _opening(tokens, flows, context, now)
        if opened is not None:
            return opened
    read_ = _read_text(state, raw, flows, now)
    if read_.reading.danger is not None:
        return _answer(state, read_, flows, read_.reading.danger, by="rules")
    answered = _command(state, read_, flows)
    if answered is None:
        answered = _free_text(state, read_, flows, context)
    return answered


def _answer(state: State | None, text: Text, flows: Flows, node: str, by: str = "",
            lead: str = "") -> tuple[State, tuple[Reply, ...]]:
    """Go to a node and give its reply."""
    return _go(state, node, text.lang, text.minute), (replace(reply_for(flows, node, text.lang, lead), by=by),)


def _opening(tokens: tuple[str, ...], flows: Flows, context: Context, now: float
             ) -> tuple[State | None, tuple[Reply, ...]] | None:
    """A first text that is, or starts with, a card word: counted under the card (None if it is not)."""
    minute = int(now // 60)
    campaign = flows.campaigns.get(" ".join(tokens))
    if campaign is None:
        card = card_word(tokens, flows)
        if card is None:
            return None
        campaign, rest = card  # "luna por favor", "LUNNA", "luna i need a bed"
        after, replies = step(None, " ".join(rest), flows, context, now) if rest else (None, ())
        if after is None and rest:  # STOP after the card word
            return None, replies
        if after is not None and replies and (replies[0].node != flows.welcome or len(rest) > GREETING_WORDS):
            return replace(after, campaign=campaign.tag), replies  # a request, or words not understood (988)
    start = State(campaign.start, campaign.lang, minute, campaign=campaign.tag)
    return start, (reply_for(flows, campaign.start, campaign.lang),)


def _command(state: State | None, text: Text, flows: Flows) -> tuple[State | None, tuple[Reply, ...]] | None:
    """FORGET, a language, MENU or 0, BACK, HELP, yes and thanks; None for any other text."""
    command, lang = text.command, text.lang
    if command == "forget":  # everything goes but the language: a number sent next still gets Spanish
        return State(flows.welcome, lang, text.minute), (reply_for(flows, "forget", lang),)
    if command is not None and command.startswith(SWITCH):  # "ESPAÑOL", "english"
        lang = command.removeprefix(SWITCH)
        node = state.node if state is not None else flows.welcome
        return _answer(state, replace(text, lang=lang), flows, node, lead=flows.strings["language_set"][lang])
    if command == "menu" or text.tokens == ("0",):
        home, replies = _answer(state, text, flows, flows.welcome)
        return replace(home, trail=()), replies
    if command == "back":
        trail = state.trail if state is not None else ()
        back, replies = _answer(state, text, flows, trail[-1] if trail else flows.welcome)
        return replace(back, trail=trail[:-1]), replies
    if command == "help":
        return _answer(state, text, flows, "help")
    danger = flows.lexicon.routes.danger
    if command == "yes" and state is not None and state.node == flows.welcome and not state.offer \
            and danger is not None:  # the welcome asks "Danger?": a yes to it is answered as danger
        return _answer(state, text, flows, danger, by="rules")
    if command in ("thanks", "yes") and state is not None and "thanks" in flows.strings:  # the page stays
        here = replace(state, lang=lang, at=text.minute, offer=())
        menu = flows.menu(state.node, lang)
        footer = flows.strings["footer"][lang]
        if footer not in menu:  # the main menu has no footer of its own: 911 all the same
            menu = f"{menu}\n{footer}"
        return here, (Reply(state.node, lang, flows.strings["thanks"][lang], (), menu),)
    return None


def _menu_choice(state: State, text: Text, flows: Flows) -> str | None:
    """The node a menu number picks, from the question or page the person is on."""
    choice = menu_number(text.tokens, flows.lexicon.numbers)
    choices = state.offer or _options(flows, state.node)
    if not choices and state.trail:  # a page with no options: a number means the last menu shown
        choices = _options(flows, state.trail[-1])
    return choices[choice - 1] if choice is not None and 1 <= choice <= len(choices) else None


def _free_text(state: State | None, text: Text, flows: Flows, context: Context
               ) -> tuple[State | None, tuple[Reply, ...]]:
    """Words: the model's danger reading, a menu number, a place, a topic, or "didn't get that"."""
    lang, lexicon = text.lang, flows.lexicon
    danger = model_danger(text.guess(), flows) if text.distinct >= MODEL_WORDS else None
    if danger is not None:  # before menu numbers and towns: "in new britain, nobody would notice if i was gone"
        return _answer(state, text, flows, danger, by="model")
    target = _menu_choice(state, text, flows) if state is not None else None  # no conversation: the welcome
    if target is not None:
        return _answer(state, text, flows, target)
    lists = state is not None and bool(flows.nodes[state.node].resources)
    if lists and not text.reading.topics:  # on a page that lists services, a town, a ZIP code or "WeHa" alone
        placed = _placed(flows, state.node, lang, text.raw, context.places.resolve)
        if placed is not None:
            return _go(state, state.node, lang, text.minute), (placed,)
    choice = understand(text.reading.topics, text.guess(), text.distinct, flows, lang, middle=state is not None)
    if choice.offer:
        here = _go(state, state.node if state is not None else flows.welcome, lang, text.minute)
        return replace(here, offer=choice.offer), (replace(_ask(flows, choice.offer, lang), by=choice.by),)
    if choice.node is not None:  # a new request, with the place it names if it names one ("clinic in new britain")
        placed = _placed(flows, choice.node, lang, text.raw, context.places.find) \
            if flows.nodes[choice.node].resources else None
        return _go(state, choice.node, lang, text.minute), (replace(placed or reply_for(flows, choice.node, lang),
                                                                    by=choice.by),)
    if lists and text.distinct <= PLACE_WORDS and not any(w in lexicon.known or w in lexicon.vocabulary
                                                          for w in text.words):
        # "Narnia", "springfeld": maybe a place the line does not know, maybe not. It says which places it
        # knows, and "didn't get that" with 911 and 988 all the same; the page stays.
        unknown = f"{flows.nodes['fallback'].say[lang]}\n{flows.strings['place_unknown'][lang]}"
        return _go(state, state.node, lang, text.minute), (replace(reply_for(flows, state.node, lang), text=unknown,
                                                                   resources=()),)
    if state is None and text.distinct <= GREETING_WORDS:  # "hi", "who is this?"
        return State(flows.welcome, lang, text.minute), (reply_for(flows, flows.welcome, lang),)
    # Not understood: "didn't get that", 911 and 988 (a crisis said in words the line does
    # not know, "everything feels so heavy lately", still gets the crisis line), then the menu.
    return _go(state, flows.welcome, lang, text.minute), (reply_for(flows, "fallback", lang),)
