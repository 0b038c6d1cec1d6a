"""Normalise text before matching, keeping the way back to the original offsets.

Evasions a lexicon should not have to spell out: full-width letters (ＴＭＤ), upper
case, traditional characters (起訴), anything put between the characters of a word
(spaces, punctuation, zero-width characters, emoji: "起 诉", "起*诉", "起。诉",
"坐\u200b牢"), letter spacing in English ("k i l l"), a few look-alike letters from
other scripts (Cyrillic "о" for "o") and digits for letters inside a word ("k1ll").

Every character of the normalised text remembers the index of the original character
it came from, so a hit is always reported as a span of the text the user wrote.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Look-alike letters from Cyrillic and Greek that pass for Latin ones.
CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ɡ": "g",
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)

# Digits and signs used for letters inside a Latin word (k1ll, sh!t, @ss is not covered:
# a sign is only read as a letter with a letter on each side).
# "*" stays as itself (f*ck): the lexicon's patterns may allow it where a letter was.
LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "@": "a",
    "$": "s",
    "!": "i",
    "*": "*",
}

# Apostrophes inside a word are dropped: "don't" → "dont", "we'll" → "well".
APOSTROPHES = frozenset("'’ʼ‘`´")

# Punctuation that ends a clause; negation does not reach across it.
CLAUSE_BREAKS = frozenset("。，！？；：,.!?;:\n\r…")

_LATIN, _DIGIT, _WORD, _SEP = 1, 2, 3, 0


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc  # type: ignore[import-untyped]

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def fold_char(ch: str) -> str:
    """One original character as zero or more normalised characters.

    NFKC (full-width to half-width, compatibility ideographs and Kangxi radicals to
    ordinary ones), lower case, look-alikes to Latin, traditional to simplified.
    """
    text = unicodedata.normalize("NFKC", ch).lower().translate(CONFUSABLES)
    if any(ord(c) >= 0x2E80 for c in text):
        converted = _t2s().convert(text)
        if isinstance(converted, str) and len(converted) == len(text):
            text = converted
    return text


def _kind(ch: str) -> int:
    if "a" <= ch <= "z":
        return _LATIN
    if "0" <= ch <= "9":
        return _DIGIT
    category = unicodedata.category(ch)
    if category[0] in "LN":
        return _LATIN if category[0] == "L" and ord(ch) < 0x2E80 else _WORD
    return _SEP


def is_latin(ch: str) -> bool:
    """Latin letters and digits: the characters English word boundaries are made of."""
    return _kind(ch) in (_LATIN, _DIGIT)


@dataclass(frozen=True, slots=True)
class Normalised:
    """The normalised text, with each character's original index and clause number."""

    original: str
    text: str
    offsets: tuple[int, ...]
    clauses: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span ``[start, end)`` covering normalised ``[start, end)``."""
        if start >= end:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end - 1] + 1

    def clause_start(self, index: int) -> int:
        """The first normalised index of the clause that ``index`` belongs to."""
        clause = self.clauses[index]
        while index > 0 and self.clauses[index - 1] == clause:
            index -= 1
        return index


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(character, original index, kind) after folding, with leet inside Latin words."""
    out: list[tuple[str, int, int]] = []
    for index, ch in enumerate(text):
        for c in fold_char(ch):
            out.append((c, index, _kind(c)))
    dropped: set[int] = set()
    for i in range(1, len(out) - 1):
        c, index, _ = out[i]
        if out[i - 1][2] == _LATIN and out[i + 1][2] == _LATIN:
            if c in LEET:
                out[i] = (LEET[c], index, _LATIN)
            elif c in APOSTROPHES:
                dropped.add(i)
    return [token for i, token in enumerate(out) if i not in dropped] if dropped else out


def normalise(text: str) -> Normalised:
    """Normalise ``text`` for matching (see the module docstring)."""
    tokens = _tokens(text)
    # Split into chunks of word characters; what lies between chunks is a separator run.
    chunks: list[list[tuple[str, int, int]]] = []
    # Before each chunk: (original index of the gap, its length, whether it ends a clause).
    gaps: list[tuple[int, int, bool]] = []
    current: list[tuple[str, int, int]] = []
    gap_index, gap_length, gap_break = -1, 0, False
    for token in tokens:
        c, index, kind = token
        if kind == _SEP:
            if current:
                chunks.append(current)
                current = []
                gap_index, gap_length, gap_break = index, 0, False
            gap_length += 1
            gap_break = gap_break or c in CLAUSE_BREAKS
            continue
        if not current:
            gaps.append((gap_index, gap_length, gap_break))
        current.append(token)
    if current:
        chunks.append(current)

    chars: list[str] = []
    offsets: list[int] = []
    clauses: list[int] = []
    clause = 0
    for n, chunk in enumerate(chunks):
        if n > 0:
            gap_at, gap_length, breaks = gaps[n]
            prev, head = chunks[n - 1], chunk
            both_digits = prev[-1][2] == _DIGIT and head[0][2] == _DIGIT
            clause += breaks and not both_digits  # 5,000.00 is one number
            if prev[-1][2] in (_LATIN, _DIGIT) and head[0][2] in (_LATIN, _DIGIT):
                # "k i l l" is one word; "W e  k n o w" keeps its wider gaps as spaces.
                spaced_letters = len(prev) == 1 and len(head) == 1 and gap_length == 1
                if not (spaced_letters or both_digits):
                    chars.append(" ")
                    offsets.append(gap_at)
                    clauses.append(clause)
        for c, index, _ in chunk:
            chars.append(c)
            offsets.append(index)
            clauses.append(clause)
    return Normalised(text, "".join(chars), tuple(offsets), tuple(clauses))


def normalise_term(term: str) -> str:
    """A lexicon term in the form it takes in normalised text."""
    return normalise(term).text
