"""Prohibited-language check (话术合规质检) for notes, templates and call transcripts.

``check_text(text)`` normalises the text (full-width, case, traditional characters,
spacing and punctuation tricks) and matches a versioned lexicon (data in
``lexicon/*.yaml``) with one Aho–Corasick automaton plus patterns; each hit has a
category, a severity and its span in the original text.
"""

from __future__ import annotations

from daihou.compliance.language.check import CheckResult, Hit, check_text
from daihou.compliance.language.lexicon import Category, Severity
from daihou.compliance.language.matcher import Lexicon, load_lexicon

__all__ = [
    "Category",
    "CheckResult",
    "Hit",
    "Lexicon",
    "Severity",
    "check_text",
    "load_lexicon",
]
