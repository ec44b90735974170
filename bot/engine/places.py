"""Where a texter is near: a Connecticut town name (typos welcome) or ZIP code, to a Place.

Pure and offline: `Places` answers from tables built from the `zipcodes` package (US Postal
data shipped with it) by `build_tables` (run in a child process by `bot.tables.places`, which
keeps the tables). Nothing here logs or keeps what it was asked; the answer is used for one
reply and dropped.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

STATE = "CT"
MAX_WORDS = 4  # the longest town name: "New Preston Marble Dale"
FUZZY_CUTOFF = 85  # rapidfuzz ratio; "new britian" scores 91, "west hartfrod" 92
FUZZY_MIN_LENGTH = 5  # shorter words must match exactly ("kent" is not "cent")
_ZIP = re.compile(r"(?<!\d)(\d{5})(?:-\d{4})?(?!\d)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_FILLER = frozenset({"ct", "conn", "connecticut"})


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


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4)


def _place(name: str, zips: list[dict]) -> Place:
    street = [z for z in zips if z.get("zip_code_type") == "STANDARD" and z.get("active", True)] or zips
    county = Counter(z.get("county", "") for z in zips).most_common(1)[0][0]
    return Place(name, _mean(float(z["lat"]) for z in street), _mean(float(z["long"]) for z in street), county)


def build_tables() -> str:
    """The town tables from the postal data, as JSON (about 0.3 s and 38 MB: run it in a child process)."""
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
    towns = {k: [p.name, p.lat, p.lon, p.county] for k, p in found.items()}
    return json.dumps({"towns": towns, "names": names, "by_zip": by_zip})


def _phrases(words: list[str]) -> list[str]:
    """Runs of 1 to MAX_WORDS words, longest first."""
    runs = []
    for size in range(min(MAX_WORDS, len(words)), 0, -1):
        runs.extend(" ".join(words[i:i + size]) for i in range(len(words) - size + 1))
    return runs


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


class Places:
    """The Connecticut towns: by name (typos, shortenings, aliases) and by ZIP code."""

    def __init__(self, tables: str):
        """From the JSON `build_tables` writes; ValueError, KeyError or TypeError if it is damaged."""
        data = json.loads(tables)
        self.towns = {k: Place(name, lat, lon, county) for k, (name, lat, lon, county) in data["towns"].items()}
        self.names: dict[str, str] = dict(data["names"])  # key of any known name or shortening -> town key
        self.by_zip: dict[str, str] = dict(data["by_zip"])
        fuzzy: dict[str, list[str]] = defaultdict(list)
        for k in sorted(self.names):
            if len(k) >= FUZZY_MIN_LENGTH:
                fuzzy[k[0]].append(k)
        self.fuzzy_keys = {letter: tuple(keys) for letter, keys in fuzzy.items()}  # names long enough for typos

    def all(self) -> list[Place]:
        """Every Connecticut town and city the postal data knows, by name."""
        return sorted(self.towns.values(), key=lambda place: place.name)

    def by_name(self, name: str | None) -> Place | None:
        """The Place for a town name as resolve() gives it (or any name the postal data knows)."""
        if not name:
            return None
        town = self.names.get(key(name))
        return self.towns[town] if town else None

    def _by_zip(self, text: str) -> Place | None:
        """The town of the first Connecticut ZIP code in a text."""
        for match in _ZIP.finditer(text):
            town = self.by_zip.get(match.group(1))
            if town:
                return self.towns[town]
        return None

    def resolve(self, text: str | None) -> Place | None:
        """The Connecticut town a text names, by ZIP code or name, typos tolerated; None if none.

        >>> from bot.tables import places
        >>> CT = places()
        >>> CT.resolve("im near 06106").name
        'Hartford'
        >>> CT.resolve("west hartfrod").name
        'West Hartford'
        >>> CT.resolve("east htfd").name
        'East Hartford'
        >>> CT.resolve("the moon") is None
        True
        """
        if not text:
            return None
        text = text[:200]
        by_zip = self._by_zip(text)
        if by_zip is not None:
            return by_zip
        words = [w for w in key(text).split() if w not in _FILLER][:30]
        phrases = _phrases(words)
        for phrase in phrases:
            town = self.names.get(ALIASES.get(phrase, phrase))
            if town:
                return self.towns[town]
        best: tuple[float, int, str] | None = None
        for phrase in phrases:
            if len(phrase) < FUZZY_MIN_LENGTH:
                continue
            # Typos rarely hit the first letter; looking only there keeps this fast.
            choices = self.fuzzy_keys.get(phrase[0], ())
            found = process.extractOne(phrase, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
            if found and (best is None or (found[1], len(phrase)) > best[:2]):
                best = (found[1], len(phrase), found[0])
        return self.towns[self.names[best[2]]] if best else None

    def find(self, text: str | None) -> Place | None:
        """The Connecticut town a text that asks for something names, by ZIP code, name or
        alias; a name that is also a word ("union") only after "in", "near", "en"...; typos only
        right after such a word ("clinic in new britian").

        >>> from bot.tables import places
        >>> CT = places()
        >>> CT.find("clinic in new britain").name
        'New Britain'
        >>> CT.find("shelter hartford").name
        'Hartford'
        >>> CT.find("i need a union job") is None
        True
        >>> CT.find("testing cerca de nueva bretana").name
        'New Britain'
        """
        if not text:
            return None
        by_zip = self._by_zip(text[:200])
        if by_zip is not None:
            return by_zip
        words = [w for w in key(text[:200]).split() if w not in _FILLER][:40]
        for size in range(min(MAX_WORDS, len(words)), 0, -1):
            for i in range(len(words) - size + 1):
                phrase = " ".join(words[i:i + size])
                town = ALIASES.get(phrase) or self.names.get(phrase)
                after = i > 0 and words[i - 1] in BEFORE_PLACE
                if town and (after or phrase not in AMBIGUOUS):
                    return self.towns[self.names.get(town, town)]
        for i, word in enumerate(words[:-1]):
            if word in BEFORE_PLACE and words[i + 1] not in ABROAD:
                place = self.resolve(" ".join(words[i + 1:i + 1 + MAX_WORDS]))
                if place is not None:
                    return place
        return None


if __name__ == "__main__":  # the child process of bot.tables.places(): print the tables
    print(build_tables())
