"""The directory a worker answers from: the snapshot in memory, refreshed from the database
when it changes, kept when the database cannot be reached."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.directory.database import (
    SCHEMA_HEAD,
    load_database,
    make_engine,
    read_snapshot,
    schema_revision,
    snapshot_from_data,
)
from bot.directory.models import Meta
from bot.directory.reports import warn_if_stale
from bot.directory.snapshot import BUILT_IN, Snapshot
from bot.errors import FlowError

log = logging.getLogger(__name__)


class DirectoryCache:
    """The snapshot a worker answers from, reloaded when the database says data changed."""

    def __init__(self, engine: Engine | None, url: str, data_dir: Path | str, snapshot: Snapshot,
                 problem: str | None, refresh_seconds: float):
        self.engine, self.url, self.data_dir = engine, url, Path(data_dir)
        self.snapshot, self.problem = snapshot, problem
        self.refresh_seconds = refresh_seconds
        self._checked_at = 0.0
        self._revision = self._stored_revision() if engine is not None else None

    @classmethod
    def open(cls, url: str, data_dir: Path | str, refresh_seconds: float = 60, today: dt.date | None = None
             ) -> DirectoryCache:
        """Load at start; if the database fails, answer from data/ (then the built-in numbers).
        Services not confirmed for long before `today` are logged."""
        try:
            engine = make_engine(url)
            try:
                load_database(engine, data_dir)
                problem = None
            except FlowError as err:  # a broken edit of data/: keep answering with the last good directory
                if schema_revision(engine) != SCHEMA_HEAD or not read_snapshot(engine).services:
                    raise
                problem = f"data/ not loaded: {err}"
                log.error("directory: %s; answering with the directory last loaded", err)
            cache = cls(engine, url, data_dir, read_snapshot(engine), problem, refresh_seconds)
            warn_if_stale(cache.snapshot, today)
            return cache
        except SQLAlchemyError as err:
            problem = f"database unavailable ({type(err).__name__})"
            log.error("directory: %s; answering from data/ in memory", problem)
        try:
            cache = cls(None, url, data_dir, snapshot_from_data(data_dir), problem, refresh_seconds)
            warn_if_stale(cache.snapshot, today)
            return cache
        except FlowError as err:
            log.error("directory: %s; answering with the built-in emergency numbers", err)
            return cls(None, url, data_dir, BUILT_IN, f"{problem}; {err}", refresh_seconds)

    def _stored_revision(self) -> str | None:
        with Session(self.engine) as session:
            meta = session.get(Meta, "revision")
            return meta.value if meta is not None else None

    def refresh_if_due(self, now: float, on_change: Callable[[], None]) -> None:
        """At most once per interval, reload the snapshot if the database holds new data."""
        if now - self._checked_at < self.refresh_seconds:
            return
        self._checked_at = now
        try:
            if self.engine is None:
                self.engine = make_engine(self.url)
                load_database(self.engine, self.data_dir)
            revision = self._stored_revision()
            if revision != self._revision or self.problem:
                self.snapshot, self._revision, self.problem = read_snapshot(self.engine), revision, None
                on_change()
        except SQLAlchemyError as err:
            self.problem = f"database unavailable ({type(err).__name__})"
            log.warning("directory: %s; keeping the last loaded directory", self.problem)
