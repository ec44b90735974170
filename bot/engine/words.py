"""Common words that are never taken for typos: "acusaron" is not "abusaron", "contarle" not "cortarme".

Typo correction turns an unknown word into a keyword table word one or two letters away. A real
word that happens to be that close must stay itself. The common words of English and Spanish come
from wordfreq; only those within typo reach of the tables' words matter. Loading the lists costs
tens of megabytes, so `bot.tables.common_words` runs this module in a short-lived child process
(`python -m bot.engine.words`, the vocabulary in, the words to keep out) and keeps the answer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

from bot.engine.lexicon import Lexicon
from bot.engine.text import normalize

TOP_WORDS = 50_000  # per language: everyday words and the common misspellings stay out of it


def pick(vocabulary: Iterable[str], candidates: Iterable[str]) -> list[str]:
    """The candidates the typo corrector would turn into a vocabulary word.

    >>> pick(["abusaron", "cortarme"], ["acusaron", "contarle", "hello"])
    ['acusaron', 'contarle']
    """
    corrector = Lexicon.corrector(vocabulary)
    return sorted({word for word in candidates
                   if word not in corrector.vocabulary and corrector.correct((word,)) != (word,)})


def _common(languages: Iterable[str]) -> Iterator[str]:
    import wordfreq

    known = wordfreq.available_languages()
    for lang in languages:
        if lang not in known:  # a language wordfreq has no list for: its typos are corrected without one
            continue
        for word in wordfreq.top_n_list(lang, TOP_WORDS):
            word = normalize(word)
            if word.isalpha() and len(word) >= 4:
                yield word


if __name__ == "__main__":  # run by bot.tables.common_words(): languages, then the vocabulary in; words out
    languages, _, vocabulary = sys.stdin.read().partition("\n")
    print("\n".join(pick(vocabulary.split(), _common(languages.split()))))
