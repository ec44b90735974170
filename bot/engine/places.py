"""Where a texter is near: a Connecticut town name (typos welcome) or ZIP code, to a Place.

Pure and offline: the town list and coordinates come from the `zipcodes` package (US Postal
data shipped with it). Nothing here logs or keeps what it was asked; the answer is used for
one reply and dropped.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.cache import CACHE_DIR, built_once

STATE = "CT"
MAX_WORDS = 4  # the longest town name: "New Preston Marble Dale"
FUZZY_CUTOFF = 85  # rapidfuzz ratio; "new britian" scores 91, "west hartfrod" 92
FUZZY_MIN_LENGTH = 5  # shorter words must match exactly ("kent" is not "cent")
_ZIP = re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_FILLER = frozenset({"ct", "conn", "connecticut"})
CACHE_FORMAT = 1


@dataclass(frozen=True)
class Place:
    """A town and its middle (the mean of its ZIP code centres)."""

    name: str
    lat: float
    lon: float
    county: str = ""


def key(text: str) -> str:
    """Lower case, no accents, words separated by one space."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", text.replace("'", "")).strip()


def _abbreviates(short: str, full: str) -> bool:
    """Whether each word of `short` is a shortening of the same word of `full` ("e htfd", "east hartford")."""
    short_words, full_words = short.split(), full.split()
    if len(short_words) != len(full_words):
        return False
    for part, word in zip(short_words, full_words, strict=True):
        if not part or part[0] != word[0]:
            return False
        letters = iter(word)
        if not all(ch in letters for ch in part):
            return False
    return True


@dataclass(frozen=True)
class _Index:
    towns: dict[str, Place]  # key of the town name -> Place
    names: dict[str, str]  # key of any known name or shortening -> key of the town
    by_zip: dict[str, str]  # ZIP -> key of the town
    fuzzy_keys: dict[str, tuple[str, ...]]  # first letter -> names long enough for typo matching


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4)


def _place(name: str, zips: list[dict]) -> Place:
    street = [z for z in zips if z.get("zip_code_type") == "STANDARD" and z.get("active", True)] or zips
    county = Counter(z.get("county", "") for z in zips).most_common(1)[0][0]
    return Place(name, _mean(float(z["lat"]) for z in street), _mean(float(z["long"]) for z in street), county)


@lru_cache(maxsize=1)
def _index() -> _Index:
    """The town tables, built once per machine and kept in the instance folder.

    The postal data holds every US ZIP code (about 38 MB once loaded, for the life of the
    process), so the Connecticut tables are built in a short-lived child process and only
    they are kept: a worker never loads the rest.
    """
    import importlib.metadata

    name = f"ct-places-{importlib.metadata.version('zipcodes')}-v{CACHE_FORMAT}.json"
    try:
        return _from_json(json.loads(built_once(name, "bot.engine.places", timeout=60)))
    except (ValueError, KeyError, TypeError):  # a damaged cache file: build again
        (CACHE_DIR / name).unlink(missing_ok=True)
        return _from_json(json.loads(built_once(name, "bot.engine.places", timeout=60)))


def _to_json(index: _Index) -> str:
    towns = {k: [p.name, p.lat, p.lon, p.county] for k, p in index.towns.items()}
    return json.dumps({"towns": towns, "names": index.names, "by_zip": index.by_zip})


def _from_json(data: dict) -> _Index:
    towns = {k: Place(name, lat, lon, county) for k, (name, lat, lon, county) in data["towns"].items()}
    names = dict(data["names"])
    fuzzy: dict[str, list[str]] = defaultdict(list)
    for k in sorted(names):
        if len(k) >= FUZZY_MIN_LENGTH:
            fuzzy[k[0]].append(k)
    return _Index(towns, names, dict(data["by_zip"]), {letter: tuple(keys) for letter, keys in fuzzy.items()})


def _build() -> _Index:
    """Build the town tables from the postal data (about 0.3 s and 38 MB)."""
    import zipcodes

    rows = [z for z in zipcodes.filter_by(state=STATE) if z.get("lat") and z.get("long")]
    by_city: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_city[row["city"]].append(row)
    cities = {key(name): name for name in by_city}
    by_zip = {row["zip_code"]: key(row["city"]) for row in rows}
    # Other names the Postal Service accepts for a ZIP code: shortenings of a town's name
    # ("Mansfield Ctr", and from envelopes "W Htfd") lead to that town; other names are towns
    # and villages of their own ("Killingly", "Storrs"), placed at the ZIP codes that accept them.
    votes: dict[str, Counter] = defaultdict(Counter)
    others: dict[str, tuple[str, list[dict]]] = {}
    for row in rows:
        own = key(row["city"])
        candidates = [(o, True) for o in row.get("acceptable_cities") or []]
        candidates += [(o, False) for o in row.get("unacceptable_cities") or []]
        for other, accepted in candidates:
            name_key = key(other)
            if not name_key or name_key in cities:
                continue
            if _abbreviates(name_key, own):
                votes[name_key][own] += 1
            elif accepted and row.get("zip_code_type") != "UNIQUE":
                others.setdefault(name_key, (other, []))[1].append(row)
    villages = {k: value for k, value in others.items() if k not in votes}
    found = {k: _place(name, by_city[name]) for k, name in cities.items()}
    found.update({k: _place(name, zips) for k, (name, zips) in villages.items()})
    names = {k: k for k in found}
    for alias, counter in votes.items():
        if alias not in names:
            names[alias] = max(sorted(counter), key=lambda town: counter[town])
    return _Index(found, names, by_zip, {})


def towns() -> list[Place]:
    """Every Connecticut town and city the postal data knows, by name."""
    return sorted(_index().towns.values(), key=lambda place: place.name)


def by_name(name: str | None) -> Place | None:
    """The Place for a town name as resolve() gives it (or any name the postal data knows)."""
    if not name:
        return None
    index = _index()
    town = index.names.get(key(name))
    return index.towns[town] if town else None


def _by_zip(text: str, index: _Index) -> Place | None:
    """The town of the first Connecticut ZIP code in a text."""
    for match in _ZIP.finditer(text):
        town = index.by_zip.get(match.group(1))
        if town:
            return index.towns[town]
    return None


def _phrases(words: list[str]) -> list[str]:
    """Runs of 1 to MAX_WORDS words, longest first."""
    runs = []
    for size in range(min(MAX_WORDS, len(words)), 0, -1):
        runs.extend(" ".join(words[i:i + size]) for i in range(len(words) - size + 1))
    return runs


def resolve(text: str | None) -> Place | None:
    """The Connecticut town a text names, by ZIP code or name, typos tolerated; None if none.

    >>> resolve("im near 06106").name
    'Hartford'
    >>> resolve("west hartfrod").name
    'West Hartford'
    >>> resolve("east htfd").name
    'East Hartford'
    >>> resolve("the moon") is None
    True
    """
    if not text:
        return None
    index = _index()
    text = text[:200]
    by_zip = _by_zip(text, index)
    if by_zip is not None:
        return by_zip
    words = [w for w in key(text).split() if w not in _FILLER][:30]
    phrases = _phrases(words)
    for phrase in phrases:
        town = index.names.get(ALIASES.get(phrase, phrase))
        if town:
            return index.towns[town]
    best: tuple[float, int, str] | None = None
    for phrase in phrases:
        if len(phrase) < FUZZY_MIN_LENGTH:
            continue
        # Typos rarely hit the first letter; looking only there keeps this fast.
        choices = index.fuzzy_keys.get(phrase[0], ())
        found = process.extractOne(phrase, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if found and (best is None or (found[1], len(phrase)) > best[:2]):
            best = (found[1], len(phrase), found[0])
    return index.towns[index.names[best[2]]] if best else None


# Other names people text for towns: Spanish, nicknames, shorthand the postal data lacks.
ALIASES = {
    "nueva bretana": "new britain", "nueva britania": "new britain", "weha": "west hartford",
    "htfd": "hartford", "hfd": "hartford", "harford": "hartford", "jartford": "hartford",
    "e htfd": "east hartford", "w htfd": "west hartford", "east htfd": "east hartford",
    "west htfd": "west hartford", "wethersfeld": "wethersfield", "nb": "new britain",
    "union station": "hartford", "riverside park": "hartford", "frog hollow": "hartford", "park st": "hartford",
}
# Countries texters come from: never taken for a town by typo ("en colombia" is not Columbia).
ABROAD = frozenset({"colombia", "mexico", "honduras", "guatemala", "salvador", "venezuela", "ecuador", "peru",
                    "cuba", "republica", "dominicana", "brasil", "brazil", "jamaica", "haiti", "nicaragua"})
# Town names that are everyday words or other places too ("union", "orange", "brooklyn",
# "washington"): in a text that asks for something, only after "in", "near", "en"... they are
# taken for the town. A text that is only the name is always the town.
AMBIGUOUS = frozenset({
    "avon", "baltic", "bethany", "bethlehem", "brooklyn", "canterbury", "canton", "cheshire", "chester",
    "clinton", "cobalt", "columbia", "cornwall", "coventry", "derby", "durham", "essex", "georgetown",
    "hampton", "hanover", "huntington", "kensington", "kent", "lebanon", "lisbon", "madison", "marion",
    "monroe", "morris", "mystic", "norfolk", "orange", "oxford", "plymouth", "portland", "preston",
    "prospect", "putnam", "riverside", "rogers", "salem", "salisbury", "scotland", "seymour", "sharon",
    "sherman", "sterling", "stevenson", "thompson", "union", "warren", "washington", "westbrook", "weston",
    "silver lane", "pleasant valley", "pine meadow", "central village", "sandy hook", "broad brook", "nb",
})
# Words after which a place is named: "clinic in new britain", "cerca de hartford".
BEFORE_PLACE = frozenset({"in", "near", "around", "by", "at", "from", "en", "cerca", "de", "por", "del"})
# Places outside the line's area that texters name: answered as such, never as "didn't get that".
OUTSIDE = frozenset({
    "new york", "nyc", "ny", "the bronx", "bronx", "queens", "manhattan", "boston", "springfield", "holyoke",
    "chicopee", "worcester", "massachusetts", "mass", "rhode island", "providence", "new jersey", "nj",
    "philadelphia", "philly", "puerto rico", "florida", "miami", "orlando", "albany", "westfield ma",
    "springfield ma", "nueva york", "nueva jersey", "boston ma", "out of state", "fuera del estado",
})


def find(text: str | None) -> Place | None:
    """The Connecticut town a text that asks for something names, by ZIP code, name or
    alias; a name that is also a word ("union") only after "in", "near", "en"...; typos only
    right after such a word ("clinic in new britian").

    >>> find("clinic in new britain").name
    'New Britain'
    >>> find("shelter hartford").name
    'Hartford'
    >>> find("i need a union job") is None
    True
    >>> find("testing cerca de nueva bretana").name
    'New Britain'
    """
    if not text:
        return None
    index = _index()
    by_zip = _by_zip(text[:200], index)
    if by_zip is not None:
        return by_zip
    words = [w for w in key(text[:200]).split() if w not in _FILLER][:40]
    for size in range(min(MAX_WORDS, len(words)), 0, -1):
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i:i + size])
            town = ALIASES.get(phrase) or index.names.get(phrase)
            after = i > 0 and words[i - 1] in BEFORE_PLACE
            if town and (after or phrase not in AMBIGUOUS):
                return index.towns[index.names.get(town, town)]
    for i, word in enumerate(words[:-1]):
        if word in BEFORE_PLACE and words[i + 1] not in ABROAD:
            place = resolve(" ".join(words[i + 1:i + 1 + MAX_WORDS]))
            if place is not None:
                return place
    return None


def outside(text: str | None) -> bool:
    """Whether a text names a place outside Connecticut ("shelter in boston", a ZIP code of
    another state)."""
    if not text:
        return False
    words = key(text[:200]).split()
    if any(match.group(1)[:2] != "06" for match in _ZIP.finditer(text[:200])):
        return True
    return any(" ".join(words[i:i + size]) in OUTSIDE for size in (1, 2, 3) for i in range(len(words)))


def distance_km(a: Place, lat: float, lon: float) -> float:
    """Great-circle distance from a place to a point."""
    p1, p2 = math.radians(a.lat), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


if __name__ == "__main__":  # the child process of _index(): print the tables as JSON
    print(_to_json(_build()))
