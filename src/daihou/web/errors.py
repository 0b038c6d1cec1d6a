"""One place that turns errors into answers: JSON naming the field for the API, a
page (or the login page) for people. Bad input is never a 500.

Services signal bad input with ``ValueError`` subclasses (``ServicingError``,
``UserError``, ``ComplaintError``, ``ImportRejected`` …, many with a ``field``), a
missing object with ``LookupError``, a refusal with ``PermissionError``
(``PermissionDenied``) and a state that forbids the action now with ``RuntimeError``
(end of day running, business date not initialised) — the same classes the CLI shows
as a red message.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from daihou.web.deps import CsrfFailed, NotAuthenticated, locale_of

log = logging.getLogger("daihou.web")
_FIELD = re.compile(r"^([a-z_][a-z0-9_.]*): ")


def wants_json(request: Request) -> bool:
    return (
        request.url.path.startswith("/api/")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def _field_of(exc: BaseException) -> str | None:
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        return field
    match = _FIELD.match(str(exc))
    return match.group(1) if match else None


def _body(error: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return body


def _page(request: Request, status: int, title: str, message: str) -> Response:
    from daihou.web.rendering import render

    return render(
        request,
        "error.html",
        actor=getattr(request.state, "actor", None),
        csrf=getattr(request.state, "csrf", None),
        locale=locale_of(request),
        status_code=status,
        title=title,
        message=message,
    )


def _answer(
    request: Request, status: int, error: str, message: str, field: str | None = None, **extra: Any
) -> Response:
    if wants_json(request):
        return JSONResponse(_body(error, message, field, **extra), status_code=status)
    return _page(request, status, error, message)


def install(app: FastAPI) -> None:
    from daihou.loans.import_file import ImportRejected
    from daihou.payments.errors import NotFound

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> Response:
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields.append({"field": ".".join(loc) or "body", "message": str(err.get("msg"))})
        first = fields[0] if fields else {"field": "body", "message": "invalid request"}
        return _answer(
            request,
            422,
            "validation",
            f"{first['field']}: {first['message']}",
            first["field"],
            fields=fields,
        )

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if wants_json(request):
            return JSONResponse(
                _body("unauthenticated", str(exc)),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return _answer(request, 403, "csrf", str(exc), "csrf_token")

    @app.exception_handler(ImportRejected)
    async def import_rejected(request: Request, exc: ImportRejected) -> Response:
        rows = [{"row": e.row, "field": e.field, "message": e.message} for e in exc.errors]
        return _answer(request, 422, "import-rejected", str(exc).splitlines()[0], None, rows=rows)

    @app.exception_handler(PermissionError)
    async def forbidden(request: Request, exc: PermissionError) -> Response:
        return _answer(
            request, 403, "forbidden", str(exc), None, action=getattr(exc, "action", None)
        )

    @app.exception_handler(LookupError)
    @app.exception_handler(NotFound)  # a ServicingError (ValueError) that means 404
    async def not_found(request: Request, exc: Exception) -> Response:
        message = str(exc.args[0]) if exc.args else "not found"
        return _answer(request, 404, "not-found", message, _field_of(exc))

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> Response:
        return _answer(request, 422, "invalid", str(exc), _field_of(exc))

    @app.exception_handler(OverflowError)
    async def too_large(request: Request, exc: OverflowError) -> Response:
        # an id or count beyond 64 bits reached SQLite's driver (PostgreSQL: DataError)
        return _answer(request, 422, "invalid", "a number is too large: " + str(exc)[:200])

    @app.exception_handler(RuntimeError)
    async def conflict(request: Request, exc: RuntimeError) -> Response:
        return _answer(request, 409, "conflict", str(exc))

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        # the database refused a value the checks let through (e.g. a NUL character
        # in a PostgreSQL text): still bad input, never a server fault
        log.info("database refused a value", extra={"error": str(exc.orig)[:200]})
        return _answer(
            request,
            422,
            "invalid",
            "a value is not acceptable to the database: " + str(exc.orig)[:200],
        )

    @app.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> Response:
        # the database is locked or unreachable: not the caller's fault; retryable
        log.warning("database unavailable", extra={"error": str(exc.orig)[:200]})
        response = _answer(request, 503, "unavailable", "the database is busy; try again")
        response.headers["Retry-After"] = "2"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        names = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method"}
        return _answer(
            request, exc.status_code, names.get(exc.status_code, "error"), str(exc.detail)
        )
