"""Tests for bot.engine.sms: GSM-7 / UCS-2 segment counting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.engine.sms import count_segments, is_gsm7

VECTORS_PATH = Path(__file__).resolve().parent / "fixtures" / "sms_segment_vectors.json"  # see fixtures/README.md


def _load_vectors() -> list[dict]:
    """The team's shared test vectors; a missing or empty file fails collection rather than skipping."""
    vectors = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    assert vectors, f"no test vectors in {VECTORS_PATH}"
    return vectors


@pytest.mark.parametrize("vector", _load_vectors())
def test_shared_vectors(vector: dict) -> None:
    assert count_segments(vector["text"]) == (vector["encoding"], vector["segments"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0)),
        ("a", ("GSM-7", 1)),
        ("a" * 160, ("GSM-7", 1)),
        ("a" * 161, ("GSM-7", 2)),
        ("a" * 153 * 2, ("GSM-7", 2)),
        ("a" * (153 * 2 + 1), ("GSM-7", 3)),
        ("a" * 153 * 3, ("GSM-7", 3)),
        ("\r\n" * 80, ("GSM-7", 1)),
    ],
)
def test_gsm7_lengths(text: str, expected: tuple[str, int]) -> None:
    assert count_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # extension characters count twice
        ("a" * 158 + "€", ("GSM-7", 1)),
        ("a" * 159 + "€", ("GSM-7", 2)),
        ("{" * 80, ("GSM-7", 1)),
        ("{" * 81, ("GSM-7", 2)),
        ("^{}\\[~]|€\f", ("GSM-7", 1)),
        # an escape pair at position 153 moves whole to the next segment (first gets 152)
        ("a" * 152 + "{" + "a" * 151, ("GSM-7", 2)),
        ("a" * 152 + "{" + "a" * 152, ("GSM-7", 3)),
        # the pair fits exactly at the end of a segment
        ("a" * 151 + "{" + "a" * 153, ("GSM-7", 2)),
        ("a" * 151 + "{" + "a" * 154, ("GSM-7", 3)),
        ("[" * 153, ("GSM-7", 3)),
    ],
)
def test_gsm7_extension(text: str, expected: tuple[str, int]) -> None:
    assert count_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("á" * 70, ("UCS-2", 1)),
        ("á" * 71, ("UCS-2", 2)),
        ("á" * 67 * 2, ("UCS-2", 2)),
        ("á" * (67 * 2 + 1), ("UCS-2", 3)),
        # emoji is 2 UTF-16 units; flags are 4
        ("😀" * 35, ("UCS-2", 1)),
        ("😀" * 36, ("UCS-2", 2)),
        ("🇮🇹" + "a" * 66, ("UCS-2", 1)),
        ("🇮🇹" + "a" * 67, ("UCS-2", 2)),
        # a surrogate pair at unit 67 moves whole to the next segment (first gets 66)
        ("á" * 66 + "😀" + "á" * 65, ("UCS-2", 2)),
        ("á" * 66 + "😀" + "á" * 66, ("UCS-2", 3)),
        ("á" * 65 + "😀" + "á" * 67, ("UCS-2", 2)),
        # one non-GSM character makes extension characters cost 1 unit, not 2
        ("á" + "{" * 69, ("UCS-2", 1)),
    ],
)
def test_ucs2_lengths(text: str, expected: tuple[str, int]) -> None:
    assert count_segments(text) == expected


@pytest.mark.parametrize(
    "text",
    ["é ñ ¿ ¡ ü", "è à ì ò ù Ñ É Ç", "¡Hola! ¿Qué tal?", "Necesito ayuda. ¿Qué hago?"],
)
def test_spanish_gsm7(text: str) -> None:
    assert is_gsm7(text)
    assert count_segments(text) == ("GSM-7", 1)


@pytest.mark.parametrize(
    "text",
    ["á", "í", "ó", "ú", "Línea nacional", "I’m okay", "“quote”", "a – b", "ok 🙂", "tab\there"],
)
def test_forces_ucs2(text: str) -> None:
    assert not is_gsm7(text)
    assert count_segments(text) == ("UCS-2", 1)


def test_one_accent_makes_whole_message_ucs2() -> None:
    text = "a" * 100
    assert count_segments(text) == ("GSM-7", 1)
    assert count_segments(text + "á") == ("UCS-2", 2)


def test_escape_character_is_not_gsm7() -> None:
    assert not is_gsm7("\x1b")
