"""``daihou`` command line: every job a command (Typer + Rich)."""

from __future__ import annotations

import typer

from daihou.cli import (
    agencies,
    book,
    collections,
    complaints,
    compliance_data,
    contacts,
    demo,
    eod,
    gate,
    language,
    ledger,
    notify,
    payment_batch,
    plans,
    servicing,
    users,
    web,
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
plans.register(app)
web.register(app)
contacts.register(app)


@app.callback()
def _startup() -> None:
    """Every command: the contact gate reads open promises and lost contact from the
    collection cases (whatever asks it: collectors, the collections run, the worker)."""
    from daihou.collection.gate_providers import register_case_providers

    register_case_providers()


def main() -> None:
    app()
