"""Precision and recall of the language check on the labelled evaluation set.

Run with ``pytest -s`` to see the figures; they are also in the assertion message.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from daihou.compliance.language.check import EvalReport, evaluate, load_eval_set
from daihou.compliance.language.lexicon import Category

EVAL_SET = Path(__file__).parent / "data" / "language_eval.yaml"
MIN_RECALL = 0.95
MIN_PRECISION = 0.90


def _details(report: EvalReport) -> str:
    lines = [f"  missed ({m.case.expect}): {m.case.text}" for m in report.missed]
    lines += [f"  false alarm {sorted(m.found)}: {m.case.text}" for m in report.false_alarms]
    return "\n".join(lines)


def test_the_set_is_large_balanced_and_covers_every_category() -> None:
    cases = load_eval_set(EVAL_SET)
    clean = [c for c in cases if c.expect is None]
    violating = [c for c in cases if c.expect is not None]
    assert len(cases) >= 300 and len(clean) >= 150 and len(violating) >= 150
    for lang in ("zh", "en"):
        found = Counter(c.expect for c in violating if c.lang == lang)
        assert set(found) == set(Category), f"{lang}: {found}"
    unseen = [c for c in cases if c.split != "dev"]  # holdout and the blind batches
    assert len(unseen) >= len(cases) // 4
    assert len({c.text for c in cases}) == len(cases), "duplicate sentences"
    evasions = [c for c in violating if c.note]
    assert len(evasions) >= 30


def test_precision_and_recall() -> None:
    cases = load_eval_set(EVAL_SET)
    full = evaluate(cases)
    figures = [full.summary("full set")]
    for split in sorted({c.split for c in cases}):
        figures.append(evaluate(cases, split=split).summary(split))
    message = "\n".join(figures)
    print("\n" + message)
    assert full.recall >= MIN_RECALL and full.precision >= MIN_PRECISION, (
        f"{message}\n{_details(full)}"
    )
