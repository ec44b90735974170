"""SMS segment counting: GSM-7 (GSM 03.38) or UCS-2, the way carriers and Twilio bill.

- GSM-7: 160 septets in one segment, 153 per segment when split. Characters of the
  extension table (form feed ^ { } \\ [ ~ ] | and the euro sign) take 2 septets (escape + char),
  and an escape pair is never split across segments.
- UCS-2: used as soon as one character is outside GSM-7. Counted in UTF-16 code units
  (most emoji 2, flags 4): 70 in one segment, 67 per segment when split; a surrogate pair is
  never split across segments.
- Empty text is ("GSM-7", 0): Twilio does not send empty messages, so nothing is billed.
- The ESC control character itself (U+001B) is not a character one can send, so it is not
  counted as GSM-7.
"""

from __future__ import annotations

from collections.abc import Iterable

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67

# GSM 03.38 default alphabet (without ESC, 0x1B), in table order.
_GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each is sent as ESC + char, so it costs 2 septets.
_GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")
_GSM7_ALL: frozenset[str] = _GSM7_BASIC | _GSM7_EXTENSION
_BMP_MAX = 0xFFFF


def is_gsm7(text: str) -> bool:
    """True when every character of text is in the GSM-7 basic or extension table."""
    return _GSM7_ALL.issuperset(text)


def _pack(costs: Iterable[int], total: int, single: int, multi: int) -> int:
    """Segments needed for per-character costs, never splitting one character's units."""
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments += 1
            used = 0
        used += cost
    return segments


def _gsm7_segments(text: str) -> int:
    """GSM-7 segments for text already known to be GSM-7."""
    extension = sum(map(text.count, _GSM7_EXTENSION))
    total = len(text) + extension
    if extension == 0 or total <= GSM7_SINGLE:
        return -(-total // GSM7_MULTI) if total > GSM7_SINGLE else int(total > 0)
    costs = (2 if ch in _GSM7_EXTENSION else 1 for ch in text)
    return _pack(costs, total, GSM7_SINGLE, GSM7_MULTI)


def _ucs2_segments(text: str) -> int:
    """UCS-2 segments for text, counted in UTF-16 code units."""
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units == len(text) or units <= UCS2_SINGLE:
        return -(-units // UCS2_MULTI) if units > UCS2_SINGLE else int(units > 0)
    costs = (2 if ord(ch) > _BMP_MAX else 1 for ch in text)
    return _pack(costs, units, UCS2_SINGLE, UCS2_MULTI)


def count_segments(text: str) -> tuple[str, int]:
    """Return (encoding, segments) for text: ("GSM-7" | "UCS-2", n); empty text is 0."""
    if is_gsm7(text):
        return GSM7, _gsm7_segments(text)
    return UCS2, _ucs2_segments(text)
