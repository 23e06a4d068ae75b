"""How many SMS a text costs: GSM-7 / UCS-2 detection and segment counting.

Dispatchers see the count under the SMS preview because a message that spills into a second
or third segment costs (and sometimes arrives) as that many SMS. The rules are GSM 03.38:

* GSM-7 when every character is in the basic table or the extension table; extension
  characters (``€ [ ] { } \\ ^ ~ |`` and form feed) take two septets (escape + char).
  One segment holds 160 septets; a concatenated message holds 153 per segment.
* UCS-2 otherwise, counted in UTF-16 code units (an emoji outside the BMP takes two):
  70 in a single segment, 67 per segment when concatenated.

Senders never split an escape pair or a surrogate pair across segments, so we pack greedily
the same way; that can make a segment hold 152 septets or 66 code units.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67


class SmsEncoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What the SMS preview shows: encoding, length in units, segments, room left."""

    encoding: SmsEncoding
    units: int
    segments: int
    remaining: int

    def describe(self) -> str:
        """One line for the preview, e.g. ``"142 / 160 GSM-7 · 1 SMS"``."""
        if self.segments <= 1:
            return f"{self.units} / {_single_limit(self.encoding)} {self.encoding} · 1 SMS"
        return f"{self.units} {self.encoding} · {self.segments} SMS ({self.remaining} left)"


def is_gsm7(text: str) -> bool:
    """True when the whole text can be sent in the GSM-7 alphabet."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _single_limit(encoding: SmsEncoding) -> int:
    return GSM7_SINGLE if encoding is SmsEncoding.GSM7 else UCS2_SINGLE


def _unit_sizes(text: str, encoding: SmsEncoding) -> list[int]:
    """Units per character: septets for GSM-7, UTF-16 code units for UCS-2."""
    if encoding is SmsEncoding.GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> SegmentInfo:
    """Count the SMS segments ``text`` needs; an empty text needs none.

    Appending a character never lowers the count (the property tests check it), so the
    preview never shows a longer message as cheaper.
    """
    encoding = SmsEncoding.GSM7 if is_gsm7(text) else SmsEncoding.UCS2
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    single = _single_limit(encoding)
    if units == 0:
        return SegmentInfo(encoding, 0, 0, single)
    if units <= single:
        return SegmentInfo(encoding, units, 1, single - units)
    per_segment = GSM7_MULTI if encoding is SmsEncoding.GSM7 else UCS2_MULTI
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return SegmentInfo(encoding, units, segments, per_segment - used)
