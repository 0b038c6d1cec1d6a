"""Prometheus metrics, structured JSON logs (one object per line) and ``/health``."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daihou.web.headers import security_headers

access_log = logging.getLogger("daihou.web.access")

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send daihou's and uvicorn's logs to stderr as JSON lines (``daihou serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("daihou", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # daihou.web.access replaces it


API_PREFIX = "/api/v1"


def route_label(scope: Scope) -> str:
    """The route template (``/api/v1/loans/{loan_id}``), never the raw path, so metric
    labels stay few. Routers included with a prefix report their path without it."""
    path = getattr(scope.get("route"), "path", None)
    if not path:
        return "unmatched"
    if str(scope.get("path", "")).startswith(API_PREFIX + "/") and not path.startswith(API_PREFIX):
        return API_PREFIX + str(path)
    return str(path)


class Observe:
    """Pure ASGI middleware (no per-request task or body copy): security headers on
    every answer, then a metric sample and one access-log line per request."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        extra = security_headers(str(scope.get("path", "")))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = route_label(scope)
            method = str(scope.get("method", ""))
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(elapsed)
            actor = scope.get("state", {}).get("actor")
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope.get("path"),
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "user": getattr(actor, "user_id", None),
                },
            )


def install(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "daihou_http_requests_total",
        "HTTP requests by route template, method and status",
        ("method", "route", "status"),
        registry=registry,
    )
    latency = Histogram(
        "daihou_http_request_seconds",
        "Time to answer an HTTP request",
        ("method", "route"),
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
        registry=registry,
    )
    app.state.metrics_registry = registry
    app.add_middleware(Observe, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["health"])
    def health(request: Request) -> dict[str, str]:
        """Liveness and database reachability."""
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}
