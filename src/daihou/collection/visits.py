"""Field visits (外访 / 下户催收): plan, record with photos, and the rules around them.

A visit asks the contact gate like any contact (quiet hours apply) and is recorded as a
gate attempt. Photos are files under the photo directory (``photo_dir`` argument, else
``$DAIHOU_VISIT_PHOTO_DIR``, else ``./visit-photos``), named by their SHA-256, which is
recorded with the photo and in the audit chain; ``read_photo`` checks it on every read,
so a file changed on disk is detected.

Results that met the borrower (met-borrower, promise, refused, dispute) count as a
right-party contact; the others are failed visits and add one to the case's
``failed_visits``. POLICY.md §5: an overdue amount above 50,000 needs a home (or
workplace) visit with photos; after two failed visits the case may go to an agency early.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from daihou.auth.actor import Actor
from daihou.collection import codes
from daihou.collection.casework import (
    AuthorisedCase,
    audit,
    authorise_case,
    basis_of,
    checked_note,
    get_case,
    local_time,
    naive_utc,
    open_case,
    overdue_amount,
    overdue_fen_by_loan,
    set_reachable,
    settings_of,
)
from daihou.collection.contact_models import FieldVisit, PromiseToPay, VisitPhoto
from daihou.collection.contacts import ask_gate, gate_request, hold_for, note_check
from daihou.collection.models import CollectionCase
from daihou.collection.promises import create_promise
from daihou.compliance.audit.service import hold_append_lock
from daihou.compliance.gate.packs import EffectiveRules
from daihou.compliance.gate.schema import Outcome as GateOutcome
from daihou.compliance.language.matcher import Lexicon
from daihou.compliance.language.service import review_note
from daihou.eod.calendar import business_date as current_business_date
from daihou.policy.schema import PolicyPack

PHOTO_DIR_ENV = "DAIHOU_VISIT_PHOTO_DIR"
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
_GATE_OUTCOME: dict[str, GateOutcome] = {
    "not-at-home": "unanswered",
    "moved": "invalid-number",
    "address-invalid": "invalid-number",
    "refused-entry": "unanswered",
}


class PhotoTampered(ValueError):
    """A photo file is missing or no longer has the SHA-256 recorded for it."""


def photo_root(photo_dir: str | os.PathLike[str] | None = None) -> Path:
    return Path(photo_dir or os.environ.get(PHOTO_DIR_ENV) or "visit-photos")


def _visitors(visitors: list[str] | None, actor: Actor) -> str:
    names = [v.strip() for v in (visitors or [actor.user_id]) if v.strip()]
    if not names:
        raise ValueError("a visit needs at least one visitor")
    joined = ",".join(dict.fromkeys(names))
    if len(joined) > 256:
        raise ValueError("the list of visitors is longer than 256 characters")
    return joined


def plan_visit(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    kind: str,
    place: str,
    planned_on: date,
    visitors: list[str] | None = None,
) -> FieldVisit:
    """Plan a visit (needs ``visit.record`` on the case)."""
    codes.choose(kind, codes.VISIT_KINDS, "visit kind")
    if not place or not place.strip():
        raise ValueError("the place to visit is required")
    case, basis = open_case(session, actor, case_id, "visit.record")
    visit = FieldVisit(
        case_id=case.id,
        customer_id=case.customer_id,
        loan_id=case.loan_id,
        kind=kind,
        status="planned",
        planned_on=planned_on,
        planned_by=actor.user_id,
        place=place.strip(),
        visitors=_visitors(visitors, actor),
    )
    session.add(visit)
    session.flush()
    after = {"case_id": case.id, "kind": kind, "planned_on": planned_on, "visitors": visit.visitors}
    audit(session, actor, "visit.plan", "field_visit", visit.id, after=after, basis=basis_of(basis))
    return visit


def store_photo(
    session: Session,
    *,
    actor: Actor,
    visit: FieldVisit,
    filename: str,
    data: bytes,
    photo_dir: str | os.PathLike[str] | None = None,
    max_bytes: int,
) -> VisitPhoto:
    """Write the photo (content-addressed, atomically) and record its hash."""
    if not data:
        raise ValueError(f"photo {filename!r} is empty")
    if len(data) > max_bytes:
        raise ValueError(f"photo {filename!r} is larger than {max_bytes} bytes")
    sha = hashlib.sha256(data).hexdigest()
    match = _SUFFIX.fullmatch(Path(filename).suffix or "")
    relative = f"{sha[:2]}/{sha}{match.group(0).lower() if match else ''}"
    target = photo_root(photo_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != sha:
        scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        scratch.write_bytes(data)
        os.replace(scratch, target)
    photo = VisitPhoto(
        visit_id=visit.id,
        path=relative,
        sha256=sha,
        size=len(data),
        filename=Path(filename).name[:256] or "photo",
        uploaded_by=actor.user_id,
    )
    session.add(photo)
    session.flush()
    return photo


def read_photo(
    session: Session, photo_id: int, *, photo_dir: str | os.PathLike[str] | None = None
) -> bytes:
    """The photo's bytes, after checking them against the recorded SHA-256."""
    photo = session.get(VisitPhoto, photo_id)
    if photo is None:
        raise LookupError(f"no visit photo {photo_id}")
    path = photo_root(photo_dir) / photo.path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PhotoTampered(f"photo {photo_id}: file {path} is missing") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != photo.sha256:
        raise PhotoTampered(
            f"photo {photo_id}: file {path} was changed (SHA-256 {actual}, recorded {photo.sha256})"
        )
    return data


@dataclass(frozen=True, slots=True)
class RecordedVisit:
    visit: FieldVisit
    photos: list[VisitPhoto]
    promise: PromiseToPay | None


def record_visit(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    at: datetime,
    result: str,
    visit_id: int | None = None,
    kind: str | None = None,
    place: str | None = None,
    visitors: list[str] | None = None,
    note: str | None = None,
    photos: list[tuple[str, bytes]] | None = None,
    photo_dir: str | os.PathLike[str] | None = None,
    promise_amount: Any = None,
    promise_date: date | None = None,
    tz: str | None = None,
    pack: PolicyPack | None = None,
    rules: EffectiveRules | None = None,
    lexicon: Lexicon | None = None,
) -> RecordedVisit:
    """Record a visit that happened: the planned ``visit_id``, or a new one (``kind``
    and ``place`` then required). Needs ``visit.record`` on the case."""
    codes.choose(result, codes.VISIT_RESULTS, "visit result")
    if (result == "promise") != (promise_amount is not None and promise_date is not None):
        raise ValueError("result promise needs a promise amount and date, and only it takes them")
    text = checked_note(note)
    settings = settings_of(pack)
    zone = tz or settings.borrower_tz
    moment = local_time(at, zone)
    case, basis = open_case(session, actor, case_id, "visit.record")
    note_check(text, settings, lexicon)
    if visit_id is not None:
        visit = session.get(FieldVisit, visit_id)
        if visit is None or visit.case_id != case.id:
            raise LookupError(f"no visit {visit_id} on case {case.id}")
        if visit.status != "planned":
            raise ValueError(f"visit {visit_id} is already {visit.status}")
    else:
        codes.choose(kind or "", codes.VISIT_KINDS, "visit kind")
        if not place or not place.strip():
            raise ValueError("the place visited is required")
        visit = FieldVisit(
            case_id=case.id,
            customer_id=case.customer_id,
            loan_id=case.loan_id,
            kind=kind,
            place=place.strip(),
            visitors=_visitors(visitors, actor),
        )
        session.add(visit)
    if visitors is not None:
        visit.visitors = _visitors(visitors, actor)
    hold_append_lock(session)
    request = gate_request(
        case,
        actor,
        channel="visit",
        party="borrower",
        at=moment,
        tz=zone,
        address=None,
        purpose="collection",
    )
    met = result in codes.VISIT_MET
    gate_outcome = _GATE_OUTCOME.get(result, "connected")
    _, attempt = ask_gate(session, request, outcome=gate_outcome, direction="outbound", rules=rules)
    visit.status = "done"
    visit.visited_at = naive_utc(moment)
    visit.visit_date = moment.date()
    visit.result = result
    visit.failed = not met
    visit.note = text
    visit.recorded_by = actor.user_id
    visit.attempt_id = attempt.id
    session.flush()
    stored = [
        store_photo(
            session,
            actor=actor,
            visit=visit,
            filename=name,
            data=data,
            photo_dir=photo_dir,
            max_bytes=settings.visit.max_photo_bytes,
        )
        for name, data in photos or []
    ]
    if text is not None:
        review_note(
            session,
            text=text,
            author_id=actor.user_id,
            agency_id=actor.agency_id,
            object_type="field_visit",
            object_id=str(visit.id),
            at=moment,
            lexicon=lexicon,
        )
    if met:
        why = f"visit {visit.id}: {result}"
        set_reachable(session, case, on=moment.date(), reason=why, actor=actor, rpc=True)
    else:
        case.failed_visits += 1
    if result == "refused":
        case.refused = True
    promise = None
    if result == "promise":
        assert promise_date is not None
        promise = create_promise(
            session,
            case=case,
            collector=actor.user_id,
            amount=promise_amount,
            promised_on=promise_date,
            made_on=moment.date(),
            rules=settings.promise,
            visit_id=visit.id,
        )
    hold = hold_for(
        session, case, actor, outcome=result, settings=settings, why=f"visit {visit.id}: {result}"
    )
    session.flush()
    for photo, (_, data) in zip(stored, photos or [], strict=True):
        audit(
            session,
            actor,
            "visit.photo",
            "visit_photo",
            photo.id,
            after={"visit_id": visit.id, "sha256": photo.sha256, "size": photo.size},
            basis=basis_of(basis),
            document=data,
        )
    audit(
        session,
        actor,
        "visit.record",
        "field_visit",
        visit.id,
        after={
            "case_id": case.id,
            "kind": visit.kind,
            "result": result,
            "failed": visit.failed,
            "visitors": visit.visitors,
            "visited_at": visit.visited_at,
            "photos": [p.sha256 for p in stored],
            "failed_visits": case.failed_visits,
            "promise_id": promise.id if promise else None,
            "hold_id": hold.id if hold else None,
        },
        basis=basis_of(basis, gate=attempt.id),
    )
    return RecordedVisit(visit=visit, photos=stored, promise=promise)


def home_visit_required(
    session: Session,
    case: CollectionCase,
    *,
    on: date | None = None,
    pack: PolicyPack | None = None,
) -> bool:
    """POLICY.md §5: the case's overdue amount is above the pack's threshold (50,000)."""
    day = on or current_business_date(session)
    threshold = settings_of(pack).visit.home_visit_threshold
    return overdue_amount(session, case.loan_id, day) > threshold


def _visited_with_photos() -> Any:
    v, ph = FieldVisit, VisitPhoto
    return exists().where(
        v.case_id == CollectionCase.id,
        v.status == "done",
        v.kind.in_(("home", "workplace")),
        v.visit_date >= CollectionCase.opened_on,
        exists().where(ph.visit_id == v.id),
    )


def cases_missing_home_visit(
    session: Session, business_date: date, *, pack: PolicyPack | None = None
) -> list[tuple[int, str, Decimal]]:
    """(case id, loan id, overdue amount) of open cases that need a home visit and have
    no home or workplace visit with photos since the case opened; largest first."""
    threshold = settings_of(pack).visit.home_visit_threshold
    overdue = overdue_fen_by_loan(business_date).subquery()
    c = CollectionCase
    rows = session.execute(
        select(c.id, c.loan_id, overdue.c.overdue_fen)
        .join(overdue, overdue.c.loan_id == c.loan_id)
        .where(
            c.status == "open",
            overdue.c.overdue_fen > int(threshold * 100),
            ~_visited_with_photos(),
        )
        .order_by(overdue.c.overdue_fen.desc(), c.id)
    ).all()
    return [(r.id, r.loan_id, (Decimal(int(r.overdue_fen)) / 100)) for r in rows]


def early_placement_eligible(
    session: Session, case_id: int, *, pack: PolicyPack | None = None
) -> bool:
    """POLICY.md §5: after two failed visits (the pack's number) the case may be placed
    with an agency before the usual stage."""
    case = get_case(session, case_id)
    return case.failed_visits >= settings_of(pack).visit.early_placement_failed_visits


def visits_of(session: Session, *, actor: Actor, case_id: int) -> list[FieldVisit]:
    return visits_of_case(session, authorise_case(session, actor=actor, case_id=case_id))


def visits_of_case(session: Session, authorised: AuthorisedCase) -> list[FieldVisit]:
    """``visits_of`` a case already read and authorised for ``case.view``."""
    case = authorised.require("case.view")
    query = select(FieldVisit).where(FieldVisit.case_id == case.id)
    return list(session.scalars(query.order_by(FieldVisit.id.desc())))


def photo_count(session: Session, visit_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(VisitPhoto).where(VisitPhoto.visit_id == visit_id)
        )
        or 0
    )
