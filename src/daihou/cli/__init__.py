"""``daihou`` command line: every job a command (Typer + Rich)."""

from __future__ import annotations

import typer

from daihou.cli import (
    agencies,
    book,
    collections,
    complaints,
    compliance_data,
    demo,
    eod,
    gate,
    language,
    ledger,
    message_seed,
    notify,
    payment_batch,
    servicing,
    users,
)

app = typer.Typer(
    name="daihou",
    help="daihou (贷后): post-loan servicing, end of day and collections.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
book.register(app)
servicing.register(app)
ledger.register(app)
demo.register(app)
eod.register(app, book.loan_app)
gate.register(app)
language.register(app)
users.register(app)
complaints.register(app)
compliance_data.register(app)
collections.register(app)
agencies.register(app)
payment_batch.register(app)
notify.register(app)
message_seed.register(app)


def main() -> None:
    app()
