"""``daihou language check|eval|qa`` on a Typer app of its own."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

import daihou.compliance.language.models  # noqa: F401  (registers the tables)
from daihou.cli import language
from daihou.compliance.language.service import review_note
from daihou.db.engine import transaction

EVAL_SET = Path(__file__).parent / "data" / "language_eval.yaml"

app = typer.Typer()
language.register(app)


@app.callback()
def _root() -> None:
    """Test app."""


runner = CliRunner()


def test_check_prints_hits_with_spans_and_fails() -> None:
    result = runner.invoke(app, ["language", "check", "不还钱就起诉你家人"])
    assert result.exit_code == 1
    assert "third_party" in result.output and "0-9" in result.output


def test_check_json_and_a_clean_text() -> None:
    result = runner.invoke(app, ["language", "check", "你这个老賴", "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["passed"] is False and data["max_severity"] == "medium"
    assert data["hits"][0]["span"] == [3, 5] and data["hits"][0]["text"] == "老賴"

    result = runner.invoke(app, ["language", "check", "请按时还款，谢谢。"])
    assert result.exit_code == 0, result.output
    assert "passed" in result.output


def test_check_reads_standard_input() -> None:
    result = runner.invoke(app, ["language", "check", "-"], input="We know where you live.")
    assert result.exit_code == 1
    assert "intimidation" in result.output


def test_eval_prints_precision_and_recall_per_split() -> None:
    result = runner.invoke(
        app, ["language", "eval", str(EVAL_SET), "--min-recall", "0.95", "--min-precision", "0.9"]
    )
    assert result.exit_code == 0, result.output
    assert "all: precision" in result.output and "holdout: precision" in result.output
    result = runner.invoke(app, ["language", "eval", str(EVAL_SET), "--split", "holdout"])
    assert result.exit_code == 0 and "holdout: precision" in result.output
    result = runner.invoke(app, ["language", "eval", "no-such.yaml"])
    assert result.exit_code == 1


def test_eval_fails_below_the_threshold() -> None:
    result = runner.invoke(app, ["language", "eval", str(EVAL_SET), "--min-recall", "1.01"])
    assert result.exit_code == 1


def test_qa_scores(engine: Engine) -> None:
    with transaction(engine) as session:
        for n, text in enumerate(["客户承诺还款。", "你这个老赖"]):
            review_note(
                session,
                text=text,
                author_id="c9",
                object_type="note",
                object_id=str(n),
                at=datetime(2026, 3, 2, 9, n),
            )
    url = engine.url.render_as_string(hide_password=False)
    result = runner.invoke(
        app,
        [
            "language",
            "qa",
            "--since",
            "2026-03-01",
            "--until",
            "2026-04-01",
            "--format",
            "json",
            "--db",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"who": "c9", "checked": 2, "flagged": 1, "score": "50.00"}
    ]
