"""The web application: ``create_app(engine, settings)``.

Each area of the product is one API router module (``daihou.web.api.<area>``, with a
``router``) and one page module (``daihou.web.pages.<area>``, with a ``router`` and a
``NAV`` list) plus a template folder ``templates/<area>/``. Adding an area is adding
its module names to ``API_AREAS``/``PAGE_AREAS``.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from daihou.collection.gate_providers import register_case_providers
from daihou.web import docs, errors, observability
from daihou.web.rendering import NavItem, make_templates
from daihou.web.settings import WebSettings

STATIC = Path(__file__).resolve().parent / "static"

API_AREAS = (
    "loans",
    "payments",
    "eod",
    "kpis",
    "complaints",
    "customers",
    "admin",
    # collector workbench
    "cases",
    "tasks",
    "contacts",
    # supervisor and agency areas
    "approvals",
    "proposals",
    "supervision",
    "agencies",
    "portal",
    "legal",
)
PAGE_AREAS = (
    "auth",
    "operations",
    "dashboard",
    "complaints",
    "admin",
    # collector workbench
    "workbench",
    # supervisor and agency areas
    "supervisor",
    "agency",
)

API_DESCRIPTION = """daihou (贷后) REST API.

Authenticate with `Authorization: Bearer <token>` (create one with
`daihou token create USER` or `POST /api/v1/tokens`). Amounts are decimal strings
("1234.50"); lists are paginated with `page` and `per_page` and say `has_more`.
Errors are JSON: `{"error", "message", "field"}`.
"""


def create_app(engine: Engine, settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    register_case_providers()  # the gate sees promises and lost contact from the cases
    app = FastAPI(
        title="daihou",
        version="1",
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.engine = engine
    app.state.read_engine = engine.execution_options(sqlite_deferred=True)
    app.state.settings = settings
    app.state.templates = make_templates()
    nav: list[NavItem] = []
    for area in API_AREAS:
        app.include_router(import_module(f"daihou.web.api.{area}").router, prefix="/api/v1")
    for area in PAGE_AREAS:
        module = import_module(f"daihou.web.pages.{area}")
        app.include_router(module.router)
        nav.extend(getattr(module, "NAV", ()))
    app.state.nav = sorted(nav, key=lambda item: item.order)
    docs.install(app)  # mounts /static/swagger: before /static, which would shadow it
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    observability.install(app)
    errors.install(app)
    return app


def app_from_env() -> FastAPI:
    """The application for ``daihou serve --processes N``: each worker process builds
    its own engine from ``DAIHOU_DATABASE_URL`` (set by ``serve``)."""
    import os

    from daihou.db.engine import make_engine
    from daihou.web.observability import configure_json_logging

    if os.environ.get("DAIHOU_WEB_JSON_LOGS", "1") == "1":
        configure_json_logging()
    threads = int(os.environ.get("DAIHOU_WEB_THREADS", "40"))
    engine = make_engine(None, **pool_options(os.environ["DAIHOU_DATABASE_URL"], threads))
    return limit_threads(create_app(engine, WebSettings.from_env()), threads)


def limit_threads(app: FastAPI, threads: int) -> FastAPI:
    """At most ``threads`` requests run at once in one process (sync routes run in
    anyio's worker threads)."""

    async def _limit() -> None:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads

    app.router.on_startup.append(_limit)
    return app


def pool_options(url: str, threads: int) -> dict[str, int]:
    """Connection pool for ``threads`` request threads: one connection each at most,
    within PostgreSQL's default connection limit."""
    from daihou.db.engine import database_url

    if not database_url(url).startswith("postgresql"):
        return {}
    return {"pool_size": min(threads, 20), "max_overflow": 10, "pool_timeout": 30}
