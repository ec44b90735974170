"""The errors more than one part raises or catches: the CLI and the web face report them, the
engine and the directory raise them. Each says where the problem is and what it is."""

from __future__ import annotations

from pathlib import Path


class ConfigError(RuntimeError):
    """The server must not start with this configuration."""


class FlowError(ValueError):
    """A flow or keyword file that must not serve, with where and why."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None, node: str = ""):
        self.path, self.line, self.node, self.problem = str(path), line, node, problem
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: " + (f"node '{node}': " if node else "") + problem)


class ImportRefused(ValueError):
    """A directory import that would leave a page the flows show with no number to send."""
