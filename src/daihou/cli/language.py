"""Prohibited-language check commands (话术合规质检)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from daihou.cli.common import (
    DbOption,
    OutputFormat,
    console,
    friendly_errors,
    parse_date,
    print_json,
    unit_of_work,
)

language_app = typer.Typer(help="Prohibited-language check (话术合规质检).", no_args_is_help=True)


class QaBy(StrEnum):
    collector = "collector"
    agency = "agency"


class Split(StrEnum):
    all = "all"
    dev = "dev"
    holdout = "holdout"
    blind = "blind"


LexiconOption = Annotated[
    list[str] | None,
    typer.Option(
        "--lexicon",
        help="Lexicon pack name or YAML path (repeat; default: $DAIHOU_LANGUAGE_LEXICON "
        "or the packaged zh-CN and en packs).",
        show_default=False,
    ),
]


@language_app.command("check")
def check_cmd(
    text: Annotated[str, typer.Argument(help="Text to check ('-' reads standard input)")],
    language: Annotated[str, typer.Option("--language", help="auto, zh-CN or en")] = "auto",
    lexicon: LexiconOption = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Check a text; prints each hit with its span. Exit code 1 when the text fails."""
    from daihou.compliance.language import check_text, load_lexicon

    if text == "-":
        text = typer.get_text_stream("stdin").read()
    with friendly_errors():
        result = check_text(text, language=language, lexicon=load_lexicon(*(lexicon or ())))
    if output is OutputFormat.json:
        print_json(
            {
                "passed": result.passed,
                "max_severity": result.max_severity.value if result.max_severity else None,
                "lexicon": result.lexicon_version,
                "hits": [
                    {
                        "category": h.category.value,
                        "severity": h.severity.value,
                        "rule_id": h.rule_id,
                        "span": list(h.span),
                        "text": h.text,
                    }
                    for h in result.hits
                ],
            }
        )
    elif result.passed:
        console.print(f"[green]passed[/] ({result.lexicon_version})", highlight=False)
    else:
        table = Table(title=f"failed: {len(result.hits)} hit(s), {result.lexicon_version}")
        for column in ("category", "severity", "rule", "span", "text"):
            table.add_column(column)
        for h in result.hits:
            table.add_row(
                h.category.value, h.severity.value, h.rule_id, f"{h.span[0]}-{h.span[1]}", h.text
            )
        console.print(table)
    if not result.passed:
        raise typer.Exit(1)


@language_app.command("eval")
def eval_cmd(
    path: Annotated[
        Path,
        typer.Argument(help="Labelled set (YAML), e.g. tests/compliance/data/language_eval.yaml"),
    ],
    split: Annotated[Split, typer.Option("--split")] = Split.all,
    lexicon: LexiconOption = None,
    show: Annotated[bool, typer.Option("--show", help="List every miss and false alarm")] = False,
    min_precision: Annotated[float, typer.Option("--min-precision")] = 0.0,
    min_recall: Annotated[float, typer.Option("--min-recall")] = 0.0,
) -> None:
    """Precision and recall on a labelled set; exit 1 below --min-precision/--min-recall."""
    from daihou.compliance.language import load_lexicon
    from daihou.compliance.language.check import evaluate, load_eval_set

    with friendly_errors():
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        cases = load_eval_set(path)
        compiled = load_lexicon(*(lexicon or ()))
    splits = [None, *sorted({c.split for c in cases})] if split is Split.all else [split.value]
    ok = True
    for name in splits:
        report = evaluate(cases, lexicon=compiled, split=name)
        if not report.cases:
            continue
        console.print(report.summary(name or "all"), highlight=False)
        if name is None or split is not Split.all:
            ok = report.precision >= min_precision and report.recall >= min_recall
        if show:
            for miss in report.missed:
                found = ", ".join(sorted(c.value for c in miss.found)) or "nothing"
                expect = miss.case.expect.value if miss.case.expect else "clean"
                console.print(
                    f"  missed ({expect}; found {found}): {miss.case.text}",
                    highlight=False,
                    markup=False,
                )
            for alarm in report.false_alarms:
                found = ", ".join(sorted(c.value for c in alarm.found))
                console.print(
                    f"  false alarm ({found}): {alarm.case.text}", highlight=False, markup=False
                )
    console.print(f"lexicon {compiled.version}", highlight=False)
    if not ok:
        raise typer.Exit(1)


@language_app.command("qa")
def qa_cmd(
    since: Annotated[str, typer.Option("--since", help="First day (YYYY-MM-DD)")],
    until: Annotated[str, typer.Option("--until", help="Day after the last (YYYY-MM-DD)")],
    by: Annotated[QaBy, typer.Option("--by")] = QaBy.collector,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """QA scores: checked notes, flagged notes and the pass percentage per collector/agency."""
    from daihou.compliance.language.service import qa_scores

    start, end = parse_date(since, field="--since"), parse_date(until, field="--until")
    with unit_of_work(db) as session:
        scores = qa_scores(session, since=start, until=end, by=by.value)
    if output is OutputFormat.json:
        print_json([s._asdict() for s in scores])
        return
    table = Table(title=f"QA scores by {by.value}, {start} to {end}")
    table.add_column(by.value)
    for column in ("checked", "flagged", "score %"):
        table.add_column(column, justify="right")
    for s in scores:
        table.add_row(s.who or "(in-house)", str(s.checked), str(s.flagged), str(s.score))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(language_app, name="language")
