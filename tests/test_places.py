"""Where a texter is near: Connecticut towns and ZIP codes, typos and accents tolerated, nothing kept."""

from __future__ import annotations

import statistics
import time

import pytest

from bot.engine import places
from bot.tables import places as town_tables


@pytest.mark.parametrize(("text", "town"), [
    ("06106", "Hartford"),
    ("im near 06119", "West Hartford"),
    ("06108-1234", "East Hartford"),
    ("estoy cerca del 06051", "New Britain"),
    ("cerca de 06105, en Hartford", "Hartford"),
])
def test_a_connecticut_zip_code_in_a_text_gives_its_town(text, town):
    assert town_tables().resolve(text).name == town


@pytest.mark.parametrize(("text", "town"), [
    ("Hartford", "Hartford"),
    ("HARTFORD CT", "Hartford"),
    ("Hártford", "Hartford"),
    ("west hartfrod", "West Hartford"),
    ("new britian", "New Britain"),
    ("east htfd", "East Hartford"),
    ("W Htfd", "West Hartford"),
    ("im in wethersfeild", "Wethersfield"),
    ("near bloomfeld ct", "Bloomfield"),
    ("estoy en East Hartford", "East Hartford"),
    ("cerca de Nueva Londres o New London", "New London"),
    ("vivo en manchestr", "Manchester"),
    ("Storrs", "Storrs"),
])
def test_a_town_name_is_understood_with_typos_case_and_accents_in_both_languages(text, town):
    assert town_tables().resolve(text).name == town


def test_west_hartford_is_not_taken_for_hartford():
    assert town_tables().resolve("west hartford").name == "West Hartford"
    assert town_tables().resolve("hartford").name == "Hartford"


@pytest.mark.parametrize("text", ["", None, "hola", "help me", "1", "menu", "no se", "10001", "90210", "the moon"])
def test_a_text_naming_no_connecticut_place_gives_none(text):
    assert town_tables().resolve(text) is None


def test_every_connecticut_town_the_postal_data_knows_is_understood_once():
    towns = town_tables().all()
    names = [t.name for t in towns]
    assert len(names) == len(set(names)), "deduplicated by name"
    assert len(towns) > 250
    for expected in ("Hartford", "Stamford", "Killingly", "Union", "Norwich", "Torrington"):
        assert expected in names
    for town in towns:
        assert town_tables().resolve(town.name) == town
        assert town_tables().by_name(town.name) == town
        assert 40.9 < town.lat < 42.1 and -73.8 < town.lon < -71.7, f"{town.name} is outside Connecticut"


def test_by_name_takes_what_resolve_gives_and_nothing_else():
    assert town_tables().by_name("West Hartford") == town_tables().resolve("west hartfrod")
    assert town_tables().by_name("not a town") is None
    assert town_tables().by_name(None) is None


def test_distance_between_towns_is_plausible():
    hartford, west_hartford = town_tables().by_name("Hartford"), town_tables().by_name("West Hartford")
    assert 3 < places.distance_km(hartford, west_hartford.lat, west_hartford.lon) < 8
    stamford = town_tables().by_name("Stamford")
    assert 100 < places.distance_km(hartford, stamford.lat, stamford.lon) < 150


def test_resolving_a_typical_answer_is_fast():
    answers = ["06106", "Hartford", "west hartfrod", "new britian", "east htfd", "im near New Britain ct",
               "estoy cerca de East Hartford", "I am in wethersfeild", "no se donde estoy"]
    town_tables().resolve("warm up")
    timings = []
    for _ in range(50):
        for text in answers:
            start = time.perf_counter()
            town_tables().resolve(text)
            timings.append(time.perf_counter() - start)
    # Typical answers take tens of microseconds; the bound leaves room for a slow CI machine.
    assert statistics.median(timings) < 100e-6
