"""Pydantic schemas of the collector workbench API (cases, tasks, contacts): what a case,
its contact history, promises, visits and approval requests look like on the wire."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from daihou.collection.casefile import CaseFile
from daihou.web.api.customers import CustomerOut, HoldOut
from daihou.web.api.loans import InstallmentOut, TransactionOut
from daihou.web.api.schemas import AmountIn, Money, Out

Channel = Literal["call", "sms", "email", "letter", "visit", "wechat", "app", "in-branch"]
Party = Literal["borrower", "contact-person", "guarantor", "third-party"]
Direction = Literal["outbound", "inbound"]
Outcome = Literal[
    "rpc",
    "promise",
    "refused",
    "dispute",
    "complaint",
    "hardship",
    "already-paid",
    "callback-requested",
    "wrong-party",
    "message-left",
    "deceased",
    "bankruptcy",
    "no-answer",
    "switched-off",
    "busy",
    "invalid-number",
    "sent",
    "delivered",
    "failed",
]
Attitude = Literal[
    "cooperative", "temporary-difficulty", "unwilling", "evasive", "hostile", "unknown"
]
NextAction = Literal[
    "call-back",
    "call-contacts",
    "sms",
    "letter",
    "visit",
    "contact-repair",
    "plan",
    "escalate",
    "none",
]
VisitKind = Literal["home", "workplace", "other"]
VisitResult = Literal[
    "met-borrower",
    "promise",
    "refused",
    "dispute",
    "not-at-home",
    "moved",
    "address-invalid",
    "met-third-party",
    "refused-entry",
]
Note = Field(default=None, max_length=4000)


class CaseOut(Out):
    id: int
    loan_id: str
    customer_id: str
    status: str
    stage: str
    owner_user_id: str | None
    team: str | None
    agency_id: str | None
    opened_on: date
    contact_status: str
    last_rpc_on: date | None
    promise_until: date | None
    broken_promises: int
    failed_visits: int


class CaseLineOut(BaseModel):
    case: CaseOut
    dpd: int
    bucket: str
    overdue: Money


class LoanLineOut(Out):
    loan_id: str
    product: str
    status: str
    outstanding_principal: Money
    overdue: Money
    dpd: int
    bucket: str
    open_case_id: int | None


class ContactOut(Out):
    id: int
    channel: str
    direction: str
    party: str
    outcome: str
    rpc: bool
    duration_seconds: int | None
    note: str | None
    note_flagged: bool
    attitude: str | None
    next_action: str | None
    next_action_on: date | None
    task_id: int | None
    collector: str
    organisation: str
    at_utc: datetime
    contact_date: date


class PromiseOut(Out):
    id: int
    case_id: int
    loan_id: str
    amount: Money
    made_on: date
    promised_on: date
    until: date
    status: str
    paid: Money | None
    resolved_on: date | None
    collector: str


class VisitOut(Out):
    id: int
    kind: str
    status: str
    visit_date: date | None
    result: str | None
    failed: bool | None
    note: str | None
    visitors: str
    recorded_by: str | None


class ContactPointOut(Out):
    id: int
    kind: str
    party: str
    masked: str | None
    source: str
    verified: bool


class CaseDetailOut(BaseModel):
    case: CaseOut
    loan: LoanLineOut
    other_loans: list[LoanLineOut] = Field(description="the customer's other loans (共债)")
    schedule: list[InstallmentOut]
    payments: list[TransactionOut]
    customer: CustomerOut
    contact_points: list[ContactPointOut]
    contacts: list[ContactOut]
    promises: list[PromiseOut]
    visits: list[VisitOut]
    holds: list[HoldOut]


def case_detail(f: CaseFile) -> CaseDetailOut:
    return CaseDetailOut(
        case=CaseOut.model_validate(f.view.case),
        loan=LoanLineOut.model_validate(f.view.loan),
        other_loans=[LoanLineOut.model_validate(x) for x in f.view.other_loans],
        schedule=[InstallmentOut.model_validate(i) for i in f.loan.installments],
        payments=[TransactionOut.model_validate(t) for t in f.loan.transactions],
        customer=CustomerOut.model_validate(f.customer),
        contact_points=[ContactPointOut.model_validate(p) for p in f.contact_points],
        contacts=[ContactOut.model_validate(c) for c in f.contacts],
        promises=[PromiseOut.model_validate(p) for p in f.promises],
        visits=[VisitOut.model_validate(v) for v in f.visits],
        holds=[HoldOut.model_validate(h) for h in f.holds],
    )


class ContactIn(BaseModel):
    channel: Channel
    outcome: Outcome
    party: Party = "borrower"
    direction: Direction = "outbound"
    at: AwareDatetime | None = Field(default=None, description="when it happened; default now")
    duration_seconds: int | None = Field(default=None, ge=0, le=86_400)
    note: str | None = Note
    attitude: Attitude | None = None
    next_action: NextAction | None = None
    next_action_on: date | None = None
    task_id: int | None = Field(default=None, ge=1, le=2**62)
    promise_amount: AmountIn | None = None
    promise_date: date | None = None


class LoggedOut(BaseModel):
    contact: ContactOut
    promise: PromiseOut | None
    hold_id: int | None
    gate_packs: list[str]


class PromiseIn(BaseModel):
    amount: AmountIn
    promised_on: date


class PlanIn(BaseModel):
    installments: int = Field(ge=1, le=120)
    monthly_income: AmountIn
    first_due_on: date = Field(description="after the business date")
    reason: str | None = Field(default=None, max_length=500)


class PlanOut(Out):
    id: int
    loan_id: str
    case_id: int | None
    approval_id: int
    number: int
    status: str
    monthly_income: Money
    total: Money
    schedule: list[list[str]]


class WaiverIn(BaseModel):
    amount: AmountIn
    reason: str | None = Field(default=None, max_length=500)


class ApprovalOut(Out):
    id: int
    kind: str
    status: str
    loan_id: str
    case_id: int | None
    amount: Money
    requested_by: str
    requested_on: date
    expires_on: date
    reason: str | None


class NoteIn(BaseModel):
    note: str = Field(max_length=4000)


class HitOut(BaseModel):
    category: str
    severity: str
    rule_id: str
    start: int
    end: int
    text: str


class NoteCheckOut(BaseModel):
    passed: bool
    refused: bool = Field(description="logging a contact with this note would be refused")
    max_severity: str | None
    hits: list[HitOut]


class WindowOut(BaseModel):
    medium: str
    open_now: bool
    local_time: datetime
    hours: list[tuple[time, time | None]] = Field(description="allowed [from, to); null: 24:00")


class TaskOut(BaseModel):
    id: int
    case_id: int | None
    loan_id: str
    kind: str
    rank: int | None
    priority: int
    status: str
    dpd: int | None
    stage: str | None
    bucket: str | None
    overdue: Money
    promise_until: date | None
    next_action: str | None
    next_action_on: date | None
    medium: str | None
    feedback_at: datetime | None
