"""Flows edited while the line runs: picked up within a minute, or kept as they were when the
edit is broken.

The upkeep thread looks at the flows folder as often as it looks at the directory
(HELPLINE_DIRECTORY_REFRESH_SECONDS). When a file's size or time has changed it loads the whole
folder again, off the texters' path, and swaps the new flows in. An edit that does not load
leaves the last good flows answering; /healthz says which file and line is wrong until it is
fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot.engine.flows import Flows
from bot.errors import FlowError

log = logging.getLogger(__name__)
WATCHED = (".yaml", ".npz")  # flows, keyword tables, campaigns, the text model


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What an edit changes: each watched file's name, size and modification time."""
    entries = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in WATCHED and path.is_file():
            stat = path.stat()
            entries.append((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class FlowsWatch:
    """Whether the flows folder holds a newer, good version of the flows a worker answers from."""

    def __init__(self, folder: Path | str, load: Callable[[Path], Flows], refresh_seconds: float):
        self.folder, self._load, self.refresh_seconds = Path(folder), load, refresh_seconds
        self.problem: str | None = None  # why the folder's flows are not the ones answering
        self._seen = fingerprint(self.folder)
        self._checked_at = float("-inf")

    def refresh_if_due(self, now: float, on_change: Callable[[Flows], None]) -> None:
        """At most once per interval: load the folder again if a file changed; `on_change` gets good flows."""
        if now - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = now
        try:
            seen = fingerprint(self.folder)
        except OSError as err:
            self.problem = f"flows folder unreadable ({type(err).__name__}); answering with the flows last loaded"
            return
        if seen == self._seen:
            return
        self._seen = seen
        try:
            flows = self._load(self.folder)
        except FlowError as err:
            self.problem = f"flows not reloaded: {err}"
            log.error("flows: %s; answering with the flows last loaded", err)
            return
        self.problem = None
        log.warning("flows: reloaded from %s", self.folder)
        on_change(flows)
