"""Turn the engine's replies into SMS messages: text, directory lines, menu, in segment budgets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from bot.directory import ServiceView, Snapshot
from bot.engine import Reply
from bot.flows import Flows
from bot.sms import count_segments

MAX_BODY = 1600  # Twilio's limit for one <Message>
MAX_MESSAGES = 10  # Twilio's limit per TwiML answer
SEGMENT_BUDGET = 4


def service_line(service: ServiceView, lang: str, strings: Mapping[str, Mapping[str, str]]) -> str:
    """One service as a line: "Crisis line: call or text 988 (24/7)"."""
    ways: list[str] = []
    voice = {p.number for p in service.phones if p.type == "voice"}
    for phone in service.phones:
        if phone.type == "voice":
            both = any(p.type == "text" and not p.keyword and p.number == phone.number for p in service.phones)
            key = "call_or_text" if both and "call_or_text" in strings else "call"
            ways.append(strings[key][lang].format(number=phone.number))
        elif phone.type == "text" and phone.keyword:
            ways.append(strings["text"][lang].format(number=phone.number, keyword=phone.keyword))
        elif phone.type == "text":
            if phone.number in voice and "call_or_text" in strings:
                continue
            ways.append(strings["text_only"][lang].format(number=phone.number))
        elif phone.type == "tty" and not any(p.type == "text" for p in service.phones):
            ways.append(strings["tty"][lang].format(number=phone.number))
    line = f"{service.label[lang]}: " + f" {strings['or'][lang]} ".join(ways)
    if service.hours == "24/7":
        line += f" ({strings['open_24_7'][lang]})"
    return line


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
    """Renders replies against the current flows and directory snapshot, caching the results."""

    def __init__(self, flows: Flows, snapshot: Snapshot, budget: int = SEGMENT_BUDGET):
        self.flows, self.snapshot, self.budget = flows, snapshot, budget
        self._render = lru_cache(maxsize=1024)(self._render_uncached)

    def resource_lines(self, categories: Sequence[str], lang: str) -> list[str]:
        """Each sendable service of the categories once, in order."""
        lines, seen = [], set()
        for category in categories:
            for service in self.snapshot.services_for(category):
                if service.id not in seen:
                    seen.add(service.id)
                    lines.append(service_line(service, lang, self.flows.strings))
        return lines

    def _render_uncached(self, reply: Reply) -> tuple[str, ...]:
        parts = [reply.text, *self.resource_lines(reply.resources, reply.lang)]
        if reply.menu:
            parts.append(reply.menu)
        return tuple(pack(parts, self.budget))

    def messages(self, replies: Sequence[Reply]) -> list[str]:
        """The SMS bodies for a step's replies, at most ten."""
        out: list[str] = []
        for reply in replies:
            out.extend(self._render(reply))
        return out[:MAX_MESSAGES]
