"""Tables built once per machine in a short-lived child process and kept in the instance folder,
and the engine's inputs made from them.

Some tables come from big data sets (every US ZIP code, word frequency lists) that would cost a
worker tens of megabytes for the life of the process. A child process builds the small table the
line needs and prints it; it is kept under a name that changes with its inputs. The engine never
does this itself: the app (and the CLI, the evaluation, the tests) call `load_flows` and
`context` here and pass what they return to `bot.engine.conversation.step`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from bot import ROOT
from bot.engine import flows, words
from bot.engine.conversation import Context
from bot.engine.places import Places

CACHE_DIR = Path(os.environ.get("HELPLINE_INSTANCE_DIR") or ROOT / "instance")
PLACES_FORMAT = 1
WORDS_FORMAT = 2  # 2: the languages are sent before the vocabulary
WORDS_PREFIX = "common-words-"
KEEP = 20  # word lists kept in the instance folder, newest first (one per version of the keyword tables)
log = logging.getLogger(__name__)


def built_once(name: str, module: str, stdin: str | None = None, timeout: float = 120) -> str:
    """The text `python -m module` prints (given `stdin`), read from the cache file `name` if it is there.

    Raises OSError or subprocess.SubprocessError when the child fails; a read-only instance
    folder only means building again next start.
    """
    cache = CACHE_DIR / name
    try:
        return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    built = subprocess.run([sys.executable, "-m", module], input=stdin, check=True,  # noqa: S603
                           capture_output=True, text=True, timeout=timeout).stdout
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(built, encoding="utf-8")
        temporary.replace(cache)
    except OSError:
        pass
    return built


@lru_cache(maxsize=1)
def places() -> Places:
    """The Connecticut towns from the postal data (the tables built once per machine)."""
    name = f"ct-places-{importlib.metadata.version('zipcodes')}-v{PLACES_FORMAT}.json"
    try:
        return Places(built_once(name, "bot.engine.places", timeout=60))
    except (ValueError, KeyError, TypeError):  # a damaged cache file: build again
        (CACHE_DIR / name).unlink(missing_ok=True)
        return Places(built_once(name, "bot.engine.places", timeout=60))


def common_words(vocabulary: Iterable[str], languages: Iterable[str]) -> frozenset[str]:
    """The common words of the languages the typo corrector would change, for this vocabulary
    (empty if wordfreq is missing)."""
    text = " ".join(languages) + "\n" + "\n".join(sorted(vocabulary))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    try:
        name = f"{WORDS_PREFIX}{importlib.metadata.version('wordfreq')}-{words.TOP_WORDS}-{digest}-v{WORDS_FORMAT}.txt"
        built = built_once(name, "bot.engine.words", text)
    except (importlib.metadata.PackageNotFoundError, OSError, subprocess.SubprocessError) as error:
        log.warning("no common word list (%s): typos are corrected without it", type(error).__name__)
        return frozenset()
    kept = sorted(CACHE_DIR.glob(f"{WORDS_PREFIX}*.txt"), key=_age)
    for old in kept[KEEP:]:  # lists for keyword tables long since edited
        old.unlink(missing_ok=True)
    return frozenset(built.split())


def _age(path: Path) -> float:
    try:
        return -path.stat().st_mtime
    except OSError:
        return 0.0


def load_flows(directory: Path | str) -> flows.Flows:
    """The flows in a folder, with the common words typo correction must leave alone."""
    return flows.load_flows(directory, common_words=common_words)


def context() -> Context:
    """What `step` needs besides the flows: the place resolver."""
    return Context(places=places())
