"""SMS segment counting (GSM-7 with its extension table, UCS-2), as the SMS preview shows it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.messaging.sms_segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    count_segments,
)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", SmsEncoding.GSM7, 0, 0),
        ("a" * 160, SmsEncoding.GSM7, 160, 1),
        ("a" * 161, SmsEncoding.GSM7, 161, 2),
        ("a" * 306, SmsEncoding.GSM7, 306, 2),
        ("a" * 307, SmsEncoding.GSM7, 307, 3),
        ("€" * 80, SmsEncoding.GSM7, 160, 1),  # extension chars count twice
        ("€" * 81, SmsEncoding.GSM7, 162, 2),
        ("€" * 153, SmsEncoding.GSM7, 306, 3),  # 76 escape pairs fit in 153 septets, not 76.5
        ("a" * 159 + "[", SmsEncoding.GSM7, 161, 2),
        ("é" * 160, SmsEncoding.GSM7, 160, 1),  # é is in the basic table
        ("ç", SmsEncoding.UCS2, 1, 1),  # but ç is not
        ("a" * 69 + "—", SmsEncoding.UCS2, 70, 1),  # an em dash makes it UCS-2
        ("a" * 70 + "—", SmsEncoding.UCS2, 71, 2),
        ("ж" * 134, SmsEncoding.UCS2, 134, 2),
        ("ж" * 135, SmsEncoding.UCS2, 135, 3),
        ("🙂" * 35, SmsEncoding.UCS2, 70, 1),  # an emoji is two UTF-16 units
        ("🙂" * 34 + "ab", SmsEncoding.UCS2, 70, 1),
        ("🙂" * 36, SmsEncoding.UCS2, 72, 2),
        ("🙂" * 67, SmsEncoding.UCS2, 134, 3),  # 33 pairs fit in 67 units, not 33.5
    ],
)
def test_known_examples(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_preview_line() -> None:
    assert count_segments("Hello").describe() == "5 / 160 GSM-7 · 1 SMS"
    assert count_segments("a" * 200).describe() == "200 GSM-7 · 2 SMS (106 left)"


SMS_ALPHABET = st.sampled_from(sorted(GSM7_BASIC) + sorted(GSM7_EXTENSION) + list("çж—🙂ü€ßÇ"))
texts = st.text(alphabet=SMS_ALPHABET, max_size=400)


@given(texts, SMS_ALPHABET)
def test_appending_a_character_never_lowers_the_count(text: str, extra: str) -> None:
    assert count_segments(text + extra).segments >= count_segments(text).segments


@given(texts, texts)
def test_a_longer_text_never_costs_less_than_its_prefix(text: str, more: str) -> None:
    assert count_segments(text + more).segments >= count_segments(text).segments


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC)), min_size=1, max_size=1000))
def test_plain_gsm_text_follows_the_simple_formula(text: str) -> None:
    n = len(text)
    expected = 1 if n <= 160 else -(-n // 153)
    assert count_segments(text).segments == expected


@given(texts)
def test_segments_hold_the_text(text: str) -> None:
    info = count_segments(text)
    per = (153 if info.encoding is SmsEncoding.GSM7 else 67) if info.segments > 1 else 160
    if info.encoding is SmsEncoding.UCS2 and info.segments == 1:
        per = 70
    assert info.units <= info.segments * per
