"""Planned SMS, e-mail and letter treatments become outbox messages, in the run's
transaction (the collections run's ``messages`` post step).

``queue_messages`` reads the business date's treatments with status ``planned`` and an
action of sms, email or letter, computes every template variable set-based (a handful
of queries for the whole day, not one per loan), renders each message through
``daihou.notify.outbox.build_row`` and inserts them with ``enqueue_rows``. Each message's
``dedupe_key`` is ``treatment:<id>`` and it is not sent before the treatment's
``planned_at``. The treatment then says ``queued`` and names its ``message_id``; a
treatment that cannot become a message gets a status saying why:
``skipped-no-address`` (an e-mail without an e-mail address on file, a letter without a
postal address), ``skipped-no-template`` (no active template of that code for the
channel and language, and none shipped: the run goes on and counts them) or
``skipped-nothing-due`` (nothing left to remind of or collect).
Running the step again finds no planned treatments and queues nothing.

Variables (``daihou.notify.templates.VARIABLES``): a reminder (``dpd`` None) carries what
falls due on ``due_date`` (= work date + days before due): the unpaid principal, interest
and total as ``amount`` of the pending installments of that date (a plan installment on a
regular due date adds to it); an overdue treatment carries the loan's overdue
amount by component (installments with status ``due``): ``principal``, ``interest``,
``penalty`` (罚息 + 复利) with ``penalty_detail``, ``amount`` (all components incl.
fees), ``due_date`` (the earliest unpaid due date) and ``dpd``. Lender, payment methods,
contact and dispute channel come from the notify settings (``lender``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import BigInteger, Table, bindparam, func, select, type_coerce, update
from sqlalchemy.orm import Session

from daihou.collection.message_templates import active_keys, seed_templates
from daihou.collection.tables import CollectionTreatment
from daihou.compliance.privacy.masking import mask_name
from daihou.kernel.money import from_fen
from daihou.loans.models import Customer, Installment, Loan, status_is
from daihou.notify.outbox import LETTER_KINDS, build_row, enqueue_rows
from daihou.notify.settings import LenderSettings, load_settings
from daihou.policy.schema import PolicyPack

MESSAGE_ACTIONS = ("sms", "email", "letter")
LANGUAGE = "zh-CN"  # customers carry no language preference yet
QUEUED, NO_ADDRESS, NOTHING_DUE = "queued", "skipped-no-address", "skipped-nothing-due"
NO_TEMPLATE = "skipped-no-template"
COMPONENTS = ("principal", "interest", "fee", "penalty", "compound")
CHUNK = 500


def _fen(column: Any) -> Any:
    return type_coerce(column, BigInteger)


def _left(component: str) -> Any:
    i = Installment
    return _fen(getattr(i, f"{component}_due")) - _fen(getattr(i, f"{component}_paid"))


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


_NAMES = select(Customer.id, Customer.name).where(Customer.id.in_(bindparam("ids", expanding=True)))
_ADDRESSES = select(Customer.id, Customer.email, Customer.address).where(
    Customer.id.in_(bindparam("ids", expanding=True))
)  # built once


def _customers(
    session: Session, ids: Iterable[str], mailed: Iterable[str]
) -> dict[str, tuple[str, str | None, bool]]:
    """customer id → (name, e-mail, has a postal address), decrypted; the e-mail and
    postal address only of the ``mailed`` customers (an e-mail or a letter is planned
    for them), the others get (name, None, False)."""
    out: dict[str, tuple[str, str | None, bool]] = {}
    for chunk in _chunks(ids):
        for cid, name in session.execute(_NAMES, {"ids": chunk}):
            out[cid] = (name, None, False)
    for chunk in _chunks(mailed):
        for cid, email, address in session.execute(_ADDRESSES, {"ids": chunk}):
            email = (email or "").strip() or None
            out[cid] = (out[cid][0], email, bool((address or "").strip()))
    return out


def _overdue(session: Session, loan_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """loan id → unpaid fen by component of its due installments, the earliest due
    date, the highest contract rate and the product."""
    cols = [func.sum(_left(c)).label(c) for c in COMPONENTS]
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(loan_ids):
        rows = session.execute(
            select(
                Installment.loan_id,
                *cols,
                func.min(Installment.due_date),
                func.max(Installment.annual_rate),
                Loan.product,
            )
            .join(Loan, Loan.id == Installment.loan_id)
            .where(Installment.loan_id.in_(chunk), status_is(Installment.status, "due"))
            .group_by(Installment.loan_id, Loan.product)
        )
        for loan_id, *fen, first_due, rate, product in rows:
            out[loan_id] = {
                **{c: int(v or 0) for c, v in zip(COMPONENTS, fen, strict=True)},
                "due_date": first_due,
                "rate": Decimal(rate),
                "product": product,
            }
    return out


def _coming(session: Session, pairs: set[tuple[str, date]]) -> dict[tuple[str, date], list[int]]:
    """(loan id, due date) → unpaid fen by component of what falls due that day: the
    sum of its pending installments (a plan's installment may share a schedule date)."""
    out: dict[tuple[str, date], list[int]] = {}
    dates = sorted({d for _, d in pairs})
    for chunk in _chunks(loan for loan, _ in pairs):
        rows = session.execute(
            select(
                Installment.loan_id, Installment.due_date, *[_left(c) for c in COMPONENTS]
            ).where(
                Installment.loan_id.in_(chunk),
                status_is(Installment.status, "pending"),
                Installment.due_date.in_(dates),
            )
        )
        for loan_id, due, *fen in rows:
            if (loan_id, due) in pairs:
                total = out.setdefault((loan_id, due), [0] * len(COMPONENTS))
                for k, v in enumerate(fen):
                    total[k] += int(v or 0)
    return out


def _money(fen: int) -> Decimal:
    return from_fen(fen)


def penalty_detail(
    penalty_fen: int, compound_fen: int, rate: Decimal, markup: Decimal | None, language: str
) -> str:
    """How the 罚息 and 复利 came about, in a sentence."""
    p, c = f"{_money(penalty_fen):,}", f"{_money(compound_fen):,}"
    penalty_rate = None if markup is None else rate * (1 + markup) * 100
    if language == "en":
        text = f"penalty interest {p} yuan and compound interest {c} yuan"
        if markup is not None and penalty_rate is not None:
            text += (
                f", at the penalty rate of {penalty_rate:.4f}% a year (the contract rate "
                f"{rate * 100:.4f}% plus {markup * 100:.0f}%) on overdue principal and interest"
            )
        return text
    text = f"罚息{p}元，复利{c}元"
    if markup is not None and penalty_rate is not None:
        text += (
            f"，按罚息年利率{penalty_rate:.4f}%（合同年利率{rate * 100:.4f}%上浮"
            f"{markup * 100:.0f}%）对逾期本金和利息计收"
        )
    return text


def _markup(pack: PolicyPack, product: str) -> Decimal | None:
    try:
        return pack.product(product).penalty_markup
    except KeyError:
        return None


def _has_template(action: str, template: str, usable: set[tuple[str, str, str]]) -> bool:
    if action == "letter":
        return template in LETTER_KINDS
    return (action, LANGUAGE, template) in usable


def _common(name: str, loan_id: str, lender: LenderSettings, language: str) -> dict[str, Any]:
    return {
        "name": mask_name(name) or "",
        "loan_id": loan_id,
        "lender": lender.name_en if language == "en" else lender.name,
        "payment_methods": list(lender.payment_methods),
        "contact_channel": f"hotline {lender.hotline}"
        if language == "en"
        else f"客服热线 {lender.hotline}",
        "dispute_channel": lender.dispute_channel,
    }


def queue_messages(session: Session, business_date: date, pack: PolicyPack) -> dict[str, Any]:
    """Queue one outbox message per planned sms/email/letter treatment of the date."""
    T = CollectionTreatment
    rows = session.execute(
        select(
            T.id,
            T.loan_id,
            T.customer_id,
            T.case_id,
            T.action,
            T.purpose,
            T.template,
            T.dpd,
            T.days_before_due,
            T.work_date,
            T.planned_at,
        )
        .where(T.business_date == business_date, T.status == "planned")
        .where(T.action.in_(MESSAGE_ACTIONS))
        .order_by(T.id)
    ).all()
    counts: Counter[str] = Counter()
    if not rows:
        return {"queued": 0}
    installed = seed_templates(session, names={str(r.template) for r in rows})
    usable = active_keys(session)
    lender = load_settings().lender
    customers = _customers(
        session,
        (r.customer_id for r in rows),
        (r.customer_id for r in rows if r.action in ("email", "letter")),
    )
    overdue = _overdue(session, (r.loan_id for r in rows if r.dpd is not None))
    coming = _coming(
        session,
        {
            (r.loan_id, r.work_date + timedelta(days=r.days_before_due or 0))
            for r in rows
            if r.dpd is None
        },
    )
    messages: list[dict[str, Any]] = []
    outcome: dict[int, str] = {}
    cache: dict[Any, Any] = {}
    for r in rows:
        if not _has_template(r.action, str(r.template), usable):
            outcome[r.id] = NO_TEMPLATE
            continue
        name, email, has_address = customers[r.customer_id]
        if (r.action == "email" and email is None) or (r.action == "letter" and not has_address):
            outcome[r.id] = NO_ADDRESS
            continue
        data = _common(name, r.loan_id, lender, LANGUAGE)
        if r.dpd is None:
            due = r.work_date + timedelta(days=r.days_before_due or 0)
            fen = coming.get((r.loan_id, due))
            if fen is None or sum(fen) <= 0:
                outcome[r.id] = NOTHING_DUE
                continue
            left = dict(zip(COMPONENTS, fen, strict=True))
            data.update(due_date=due, dpd=0, penalty_detail="")
        else:
            found = overdue.get(r.loan_id)
            if found is None or sum(found[c] for c in COMPONENTS) <= 0:
                outcome[r.id] = NOTHING_DUE
                continue
            left = {c: found[c] for c in COMPONENTS}
            markup = _markup(pack, found["product"])
            detail = penalty_detail(
                left["penalty"], left["compound"], found["rate"], markup, LANGUAGE
            )
            data.update(due_date=found["due_date"], dpd=r.dpd, penalty_detail=detail)
        data.update(
            amount=_money(sum(left.values())),
            principal=_money(left["principal"]),
            interest=_money(left["interest"]),
            penalty=_money(left["penalty"] + left["compound"]),
        )
        messages.append(
            build_row(
                session,
                customer_id=r.customer_id,
                loan_id=r.loan_id,
                case_id=r.case_id,
                channel=r.action,
                purpose=r.purpose,
                template=str(r.template),
                language=LANGUAGE,
                variables=data,
                dedupe_key=f"treatment:{r.id}",
                not_before=r.planned_at.replace(tzinfo=UTC),
                templates=cache,
            )
        )
        counts[r.action] += 1
    ids, new = enqueue_rows(session, messages)
    updates = [
        {"t_id": r.id, "t_status": QUEUED, "t_message": ids[f"treatment:{r.id}"]}
        for r in rows
        if r.id not in outcome
    ] + [{"t_id": tid, "t_status": status, "t_message": None} for tid, status in outcome.items()]
    table = cast(Table, T.__table__)
    session.execute(
        update(table)
        .where(table.c.id == bindparam("t_id"))
        .values(status=bindparam("t_status"), message_id=bindparam("t_message")),
        updates,
    )
    counts.update(outcome.values())
    return {
        "queued": len(messages),
        "new_messages": new,
        **dict(sorted(counts.items())),
        "templates_installed": len(installed),
    }
