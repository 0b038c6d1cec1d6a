"""Errors of servicing use cases; each names the field or object at fault."""

from __future__ import annotations


class ServicingError(ValueError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class NotFound(ServicingError):
    """The loan or transaction named does not exist."""


class ReferenceConflict(ServicingError):
    """A channel reference reused for a different posting."""
