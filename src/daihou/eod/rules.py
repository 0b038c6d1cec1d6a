"""The pack's delinquency rules compiled to SQL CASE expressions (the same rules as
``kernel.delinquency``), and per-product parameters for set-based steps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, literal
from sqlalchemy.sql.elements import ColumnElement

from daihou.kernel.delinquency import CLASSES, Bucket, Floor, rank
from daihou.kernel.money import to_fen
from daihou.policy.schema import PolicyPack


def buckets(pack: PolicyPack) -> list[Bucket]:
    return [Bucket(b.name, b.min_dpd, b.max_dpd) for b in pack.delinquency.buckets]


def floors(pack: PolicyPack) -> list[Floor]:
    return [Floor(f.min_dpd, f.risk_class) for f in pack.delinquency.effective_floors()]


def bucket_case(dpd: Any, pack: PolicyPack) -> ColumnElement[str]:
    whens = [(dpd <= b.max_dpd, literal(b.name)) for b in buckets(pack) if b.max_dpd is not None]
    return case(*whens, else_=literal(buckets(pack)[-1].name))


def bucket_rank_case(bucket_col: Any, pack: PolicyPack) -> ColumnElement[int]:
    return case({b.name: i for i, b in enumerate(buckets(pack))}, value=bucket_col, else_=0)


def floor_rank_case(dpd: Any, pack: PolicyPack) -> ColumnElement[int]:
    ordered = sorted(floors(pack), key=lambda f: -f.min_dpd)
    whens = [(dpd >= f.min_dpd, literal(rank(f.risk_class))) for f in ordered]
    return case(*whens, else_=literal(0))


def class_rank_case(class_col: Any) -> ColumnElement[int]:
    return case({c: i for i, c in enumerate(CLASSES)}, value=class_col, else_=0)


def class_name_case(rank_expr: Any) -> ColumnElement[str]:
    return case({i: c for i, c in enumerate(CLASSES)}, value=rank_expr, else_=literal(CLASSES[0]))


def product_value_case(
    product_col: Any, values: dict[str, Any], default: Any
) -> ColumnElement[Any]:
    return case(values, value=product_col, else_=literal(default)) if values else literal(default)


def tolerance_fen(pack: PolicyPack) -> dict[str, int]:
    return {
        p.code: to_fen(p.overdue_tolerance.quantize(p.overdue_tolerance.__class__("0.01")))
        for p in pack.products
    }


def case_kind(old_rank: Any, new_rank: Any) -> ColumnElement[str]:
    """Event kind of a bucket move: cured (back to M0), entered-bucket (out of M0),
    rolled-forward (to a later bucket), rolled-back (to an earlier one, not M0)."""
    return case(
        (new_rank == 0, literal("cured")),
        (old_rank == 0, literal("entered-bucket")),
        (new_rank > old_rank, literal("rolled-forward")),
        else_=literal("rolled-back"),
    )
