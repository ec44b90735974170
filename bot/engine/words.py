"""Common words that are never taken for typos: "acusaron" is not "abusaron", "contarle" not "cortarme".

Typo correction turns an unknown word into a keyword table word one or two letters away. A real
word that happens to be that close must stay itself. The common words of English and Spanish come
from wordfreq; only those within typo reach of the tables' words matter. Loading the lists costs
tens of megabytes, so those few are picked in a short-lived child process and kept in the instance
folder, under a name that changes with the tables' words.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.cache import CACHE_DIR, built_once
from bot.engine.matching import LANGUAGES, Lexicon, normalize

TOP_WORDS = 50_000  # per language: everyday words and the common misspellings stay out of it
CACHE_FORMAT = 1
PREFIX = "common-words-"
KEEP = 20  # lists kept in the instance folder, newest first (one per version of the tables)
log = logging.getLogger(__name__)


def common_words(vocabulary: Iterable[str]) -> frozenset[str]:
    """The common words the typo corrector would change, for this vocabulary (empty if wordfreq is missing)."""
    words = "\n".join(sorted(vocabulary))
    digest = hashlib.sha256(words.encode()).hexdigest()[:16]
    try:
        name = f"{PREFIX}{importlib.metadata.version('wordfreq')}-{TOP_WORDS}-{digest}-v{CACHE_FORMAT}.txt"
        text = built_once(name, "bot.engine.words", words)
    except (importlib.metadata.PackageNotFoundError, OSError, subprocess.SubprocessError) as error:
        log.warning("no common word list (%s): typos are corrected without it", type(error).__name__)
        return frozenset()
    kept = sorted(CACHE_DIR.glob(f"{PREFIX}*.txt"), key=_age)
    for old in kept[KEEP:]:  # lists for keyword tables long since edited
        old.unlink(missing_ok=True)
    return frozenset(text.split())


def _age(path: Path) -> float:
    try:
        return -path.stat().st_mtime
    except OSError:
        return 0.0


def pick(vocabulary: Iterable[str], candidates: Iterable[str]) -> list[str]:
    """The candidates the typo corrector would turn into a vocabulary word.

    >>> pick(["abusaron", "cortarme"], ["acusaron", "contarle", "hello"])
    ['acusaron', 'contarle']
    """
    corrector = Lexicon.corrector(vocabulary)
    return sorted({word for word in candidates
                   if word not in corrector.vocabulary and corrector.correct((word,)) != (word,)})


def _common() -> Iterator[str]:
    import wordfreq

    for lang in LANGUAGES:
        for word in wordfreq.top_n_list(lang, TOP_WORDS):
            word = normalize(word)
            if word.isalpha() and len(word) >= 4:
                yield word


if __name__ == "__main__":  # run by common_words(): the vocabulary in, the words to keep as they are out
    print("\n".join(pick(sys.stdin.read().split(), _common())))
