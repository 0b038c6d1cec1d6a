"""Pydantic schemas shared by the API areas: money as decimal strings, pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from daihou.kernel.money import fmt

Money = Annotated[Decimal, PlainSerializer(lambda v: fmt(v), return_type=str, when_used="always")]
"""An amount in yuan, written as a decimal string with two places ("1234.50")."""

RateText = Annotated[
    Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="always")
]

AmountIn = Annotated[
    str,
    Field(
        pattern=r"^\d{1,15}(\.\d{1,2})?$",
        examples=["1000.00"],
        description="amount in yuan as a decimal string, at most two decimals",
    ),
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    per_page: int
    has_more: bool


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Error(BaseModel):
    error: str
    message: str
    field: str | None = None


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Error, "description": "not signed in"},
    403: {"model": Error, "description": "not allowed"},
    404: {"model": Error, "description": "not found"},
    422: {"model": Error, "description": "bad input (field named)"},
}
