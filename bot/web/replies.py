"""Turn the engine's replies into SMS messages: text, directory lines, menu, in segment budgets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache

from bot.clock import Clock
from bot.directory.hours import Hours, OpenStatus, open_status
from bot.directory.snapshot import NATIONAL, ServiceView, Snapshot
from bot.engine import places
from bot.engine.campaigns import Team
from bot.engine.conversation import Reply
from bot.engine.flows import Flows
from bot.engine.sms import count_segments
from bot.engine.text import readable
from bot.tables import places as town_tables

MAX_BODY = 1600  # Twilio's limit for one <Message>
MAX_MESSAGES = 10  # Twilio's limit per TwiML answer
SEGMENT_BUDGET = 4

# Which features a line shows, most useful first, at most MAX_FEATURES of them after the hours.
# text_line is not among them: the numbers already say "text ...".
SHOWN_FEATURES = {"en": ("free", "confidential", "no_id", "walk_in", "spanish"),
                  "es": ("spanish", "free", "confidential", "no_id", "walk_in")}
MAX_FEATURES = 1


def clock(moment: dt.datetime, lang: str) -> str:
    """A time as people write it: 9am, 5:30pm in English; 9:00, 17:30 in Spanish."""
    if lang == "en":
        hour = moment.hour % 12 or 12
        minutes = f":{moment.minute:02d}" if moment.minute else ""
        return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"
    return f"{moment.hour}:{moment.minute:02d}"


def status_text(status: OpenStatus, lang: str, strings: Mapping[str, Mapping[str, str]], now: dt.datetime) -> str:
    """24/7, open now, or when it next opens, in the reply's language."""
    if status.kind == "24/7":
        return strings["open_24_7"][lang]
    if status.kind == "open" or status.at is None:
        return strings["open_now"][lang]
    if status.at.date() == now.date():
        return strings["opens_today"][lang].format(time=clock(status.at, lang))
    day = strings["weekdays"][lang].split()[status.at.weekday()]
    return strings["opens_on"][lang].format(day=day, time=clock(status.at, lang))


def service_line(service: ServiceView, lang: str, strings: Mapping[str, Mapping[str, str]],
                 now: dt.datetime) -> str:
    """One service as a line at a moment of the line's wall time: "Crisis line: call or text 988 (24/7, free)"."""
    ways: list[str] = []
    voice = {p.number for p in service.phones if p.type in ("voice", "cell")}
    for phone in service.phones:
        if phone.type in ("voice", "cell"):
            both = any(p.type == "text" and not p.keyword and p.number == phone.number for p in service.phones)
            key = "call_or_text" if both else "call"
            ways.append(strings[key][lang].format(number=phone.number))
        elif phone.type == "text" and phone.keyword:
            ways.append(strings["text"][lang].format(number=phone.number, keyword=phone.keyword))
        elif phone.type == "text":
            if phone.number in voice:
                continue
            ways.append(strings["text_only"][lang].format(number=phone.number))
        elif phone.type == "textphone" and not any(p.type == "text" for p in service.phones):
            ways.append(strings["tty"][lang].format(number=phone.number))
    label = service.label.get(lang) or service.label["en"]  # the directory names services in English and Spanish
    line = f"{label}: " + f" {strings['or'][lang]} ".join(ways)
    status = open_status(service.hours, now)
    tags = [status_text(status, lang, strings, now)] if status else []
    if not tags and "24_7" in service.features:
        tags.append(strings["open_24_7"][lang])
    shown = [f for f in SHOWN_FEATURES.get(lang, SHOWN_FEATURES["en"]) if f in service.features]
    tags += [strings[f"feature_{f}"][lang] for f in shown[:MAX_FEATURES]]
    return line + (f" ({', '.join(tags)})" if tags else "")


def pack(parts: Sequence[str], budget: int = SEGMENT_BUDGET) -> list[str]:
    """Join parts line by line into as few messages as fit the segment budget."""
    messages: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}\n{part}" if current else part
        if current and count_segments(candidate)[1] > budget:
            messages.append(current)
            candidate = part
        current = candidate
    if current:
        messages.append(current)
    return [m[:MAX_BODY] for m in messages][:MAX_MESSAGES]


class Renderer:
    """Renders replies against the current flows and directory snapshot, caching the results.

    A reply is rendered once per minute at most (open-now changes by the minute). A reply with a
    place (`near`, the town a texter named) is rendered for that text only and never cached, so
    the place is not kept.
    """

    def __init__(self, flows: Flows, snapshot: Snapshot, budget: int = SEGMENT_BUDGET, clock: Clock | None = None):
        self.flows, self.snapshot, self.budget = flows, snapshot, budget
        self.clock = clock or Clock.from_env()  # open now is told in the line's time zone
        self._render = lru_cache(maxsize=1024)(self._render_in_minute)

    def resource_lines(self, categories: Sequence[str], lang: str, near: places.Place | None = None,
                       now: dt.datetime | float | None = None, national: bool = False,
                       region: Sequence[places.Place] = ()) -> list[str]:
        """Each sendable service of the categories once, in order (for a place: those serving it,
        nearest first; `national`: the national ones only)."""
        lines, seen = [], set()
        now = self.clock.local(now)
        for category in categories:
            for service in self.snapshot.services_for(category, near=near, region=region):
                if service.id not in seen and (not national or service.tier() == NATIONAL):
                    seen.add(service.id)
                    lines.append(service_line(service, lang, self.flows.strings, now))
        return lines

    def place_line(self, reply: Reply, near: places.Place | None) -> list[str]:
        """What a reply says about places: outside the state; near a town, or that nothing local is
        known there; or, with no place, an invitation to send one, only when the directory has
        local services for this page."""
        strings = self.flows.strings
        if reply.outside:
            return [strings["place_outside"][reply.lang]]
        if near is not None:
            key = "near_you" if self.snapshot.has_local(reply.resources, near) else "no_local"
            return [strings[key][reply.lang].format(place=near.name)]
        return [strings["ask_place"][reply.lang]] if self.snapshot.has_local(reply.resources) else []

    def render(self, reply: Reply, now: dt.datetime | float | None = None, team: Team | None = None,
               welcome: str = "welcome") -> tuple[str, ...]:
        """One reply's messages: its text, what it says about places (and the team, on its line's
        welcome, help and "didn't get that"), the services it names, its menu."""
        near = town_tables().by_name(reply.near)
        region = tuple(p for p in map(town_tables().by_name, team.region if team else ()) if p is not None)
        team_lines = self.team_lines(team, reply.lang, now) if team and reply.node in (welcome, "help", "fallback") \
            else []
        parts = [self.program(reply.text, reply.lang, team), *self.place_line(reply, near), *team_lines,
                 *self.resource_lines(reply.resources, reply.lang, near, now, national=reply.outside, region=region)]
        if reply.menu:  # with the last number when they fit together: a menu alone is one more text
            joined = f"{parts[-1]}\n{reply.menu}"
            if len(parts) > 1 and count_segments(joined)[1] <= self.budget:
                parts[-1] = joined
            else:
                parts.append(reply.menu)
        return tuple(pack(parts, self.budget))

    def program(self, text: str, lang: str, team: Team | None) -> str:
        """A text with {program} as the line's name: its team's, else the flows' `program` string."""
        if "{program}" not in text:
            return text
        return text.replace("{program}", team.name if team else self.flows.strings["program"][lang])

    def team_lines(self, team: Team, lang: str, now: dt.datetime | float | None) -> list[str]:
        """A person to reach: the team's on-call number while someone answers it; else when they
        are back, and the 24/7 lines. Nothing when the team has no on-call number."""
        if not team.on_call:
            return []
        strings, local = self.flows.strings, self.clock.local(now)
        status = open_status([Hours(days, opens, closes) for days, opens, closes in team.hours], local)
        if status is not None and status.kind in ("open", "24/7"):
            return [strings["on_call_now"][lang].format(number=readable(team.on_call))]
        if status is None or status.at is None:  # no hours this week: only the 24/7 lines
            return self.resource_lines(team.after_hours, lang, now=local)
        day = strings["weekdays"][lang].split()[status.at.weekday()]
        when = clock(status.at, lang) if status.at.date() == local.date() else f"{day} {clock(status.at, lang)}"
        return [strings["on_call_back"][lang].format(when=when),
                *self.resource_lines(team.after_hours, lang, now=local)]

    def _render_in_minute(self, reply: Reply, minute: dt.datetime, team: Team | None, welcome: str
                          ) -> tuple[str, ...]:
        return self.render(reply, minute, team, welcome)

    def messages(self, replies: Sequence[Reply], now: dt.datetime | float | None = None,
                 line: Flows | None = None) -> list[str]:
        """The SMS bodies for a step's replies, at most ten; `now` (default: the clock) decides
        open-now; `line`, the flows as the number texted answers them (its team and welcome)."""
        minute = self.clock.local(now).replace(second=0, microsecond=0)
        team, welcome = (line.team, line.welcome) if line is not None else (None, self.flows.welcome)
        out: list[str] = []
        for reply in replies:
            if reply.near:
                out.extend(self.render(reply, minute, team, welcome))
            else:
                out.extend(self._render(reply, minute, team, welcome))
        return out[:MAX_MESSAGES]
