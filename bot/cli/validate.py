"""Checks on flows against the directory, beyond what loading enforces: what a texter would see."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.directory.database import snapshot_from_data
from bot.engine.conversation import Reply, reply_for
from bot.engine.flows import Flows
from bot.engine.sms import count_segments
from bot.engine.text import denied_words
from bot.web.replies import SEGMENT_BUDGET, Renderer

LOCK_SCREEN = 40  # characters a lock screen shows of a new message


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def every_reply(flows: Flows) -> list[Reply]:
    """Every reply the bot can send, in each of its languages (language-switch leads included)."""
    replies = []
    for node in flows.nodes:
        for lang in flows.languages:
            replies.append(reply_for(flows, node, lang))
            replies.append(reply_for(flows, node, lang, flows.strings["language_set"][lang]))
    return replies


def lock_screen_words(text: str, denied: frozenset[str]) -> list[str]:
    """The denied topic words among the first characters of a message."""
    return denied_words(text[:LOCK_SCREEN], denied)


def check(flows: Flows, data_dir: Path | str, budget: int = SEGMENT_BUDGET) -> Report:
    """Resources named exist and are verified; every message fits the budget and is discreet."""
    report = Report()
    snapshot = snapshot_from_data(data_dir)
    for node in flows.nodes.values():
        for category in node.resources:
            if not snapshot.services_for(category):
                report.errors.append(f"{node.path}:{node.line}: node '{node.id}': resource category "
                                     f"'{category}' has no active, assured service in {data_dir}")
    if report.errors:
        return report
    renderer = Renderer(flows, snapshot, budget=budget)
    denied = flows.lexicon.lockscreen
    counts = {"GSM-7": 0, "UCS-2": 0}
    for reply in every_reply(flows):
        node = flows.nodes[reply.node]
        for number, body in enumerate(renderer.messages([reply]), start=1):
            encoding, segments = count_segments(body)
            counts[encoding] += 1
            where = f"{node.path}:{node.line}: node '{node.id}' ({reply.lang}) message {number}"
            if segments > budget:
                report.errors.append(f"{where}: {segments} segments, over the budget of {budget}")
            words = lock_screen_words(body, denied)
            if words:
                report.errors.append(f"{where}: the first {LOCK_SCREEN} characters name the topic "
                                     f"({', '.join(words)}): {body[:LOCK_SCREEN]!r}")
    report.lines.append(f"{len(flows.nodes)} nodes; messages by encoding: "
                        f"GSM-7 {counts['GSM-7']}, UCS-2 {counts['UCS-2']}")
    return report
