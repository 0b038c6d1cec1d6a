"""Normalisation for the language check: evasions fold away, spans map back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daihou.compliance.language.normalise import normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("不 还 钱 就 起 诉 你 家 人", "不还钱就起诉你家人"),
        ("不還錢就起訴你家人", "不还钱就起诉你家人"),
        ("起*诉", "起诉"),
        ("起。诉", "起诉"),
        ("起＊诉", "起诉"),
        ("坐\u200b牢", "坐牢"),
        ("坐😡牢", "坐牢"),
        ("派\u3000出\u3000所", "派出所"),
        ("ＴＭＤ", "tmd"),
        ("I will k i l l you", "i will kill you"),
        ("W e  k n o w", "we know"),
        ("sh1t", "shit"),
        ("don't", "dont"),
        ("kіll", "kill"),  # Cyrillic і
        ("5,000.00元", "500000元"),
        ("Hello,   World!", "hello world"),
    ],
)
def test_evasions_fold_away(text: str, expected: str) -> None:
    assert normalise(text).text == expected


def test_spans_map_back_to_the_original_text() -> None:
    text = "喂，不 還 錢 就 起＊訴 你 家 人！"
    norm = normalise(text)
    start = norm.text.index("起诉")
    s, e = norm.span(start, start + 2)
    assert text[s:e] == "起＊訴"
    s, e = norm.span(0, len(norm.text))
    assert text[s:e] == "喂，不 還 錢 就 起＊訴 你 家 人"


def test_clauses_split_at_sentence_punctuation_but_not_inside_numbers() -> None:
    norm = normalise("我不会骗你，你会坐牢 5,000.00")
    assert norm.clauses[norm.text.index("骗")] != norm.clauses[norm.text.index("坐")]
    assert len({norm.clauses[i] for i, c in enumerate(norm.text) if c.isdigit()}) == 1


@given(st.text(max_size=60))
def test_every_normalised_character_maps_into_the_original(text: str) -> None:
    norm = normalise(text)
    assert len(norm.offsets) == len(norm.text) == len(norm.clauses)
    assert list(norm.offsets) == sorted(norm.offsets)
    assert all(0 <= i < len(text) for i in norm.offsets)
