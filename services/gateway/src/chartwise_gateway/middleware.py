"""Cross-cutting HTTP concerns as plain ASGI middleware: request and correlation ids, logs, metrics, size cap."""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chartwise_contracts import new_id
from chartwise_gateway.errors import error_response
from chartwise_runtime.logging import get_logger

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

log = get_logger("chartwise_gateway.access")


def _client_id(headers: Headers, name: str) -> str | None:
    value = headers.get(name)
    return value if value is not None and _ACCEPTABLE_ID.match(value) else None


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "gateway_http_request_seconds", "Time to answer an HTTP request", ["method", "route"], registry=registry
        )


class RequestContextMiddleware:
    """Gives each request a request id and a correlation id (the client's, if it sent acceptable ones).

    Both are bound to every log line written while the request is handled and returned as response headers;
    the correlation id travels on in every message the request causes.
    """

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = _client_id(headers, REQUEST_ID_HEADER) or new_id()
        correlation_id = _client_id(headers, CORRELATION_ID_HEADER) or request_id
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        status = 500
        started = time.perf_counter()

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID_HEADER] = request_id
                response_headers[CORRELATION_ID_HEADER] = correlation_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id, correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_ids)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                self.metrics.requests.labels(scope["method"], route, str(status)).inc()
                self.metrics.latency.labels(scope["method"], route).observe(elapsed)
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    user=scope["state"].get("user_id"),
                )


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413: at once from Content-Length, else while the body streams in."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            response = error_response(
                413,
                "payload_too_large",
                f"the body is larger than {self.max_bytes} bytes",
                {"max_bytes": self.max_bytes},
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException, because FastAPI turns any other error raised while reading the body into 400.
                    raise HTTPException(413, f"the body is larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)
