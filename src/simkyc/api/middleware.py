"""ASGI middleware: a hard cap on request body size, and Prometheus request metrics.

The size cap runs before any parsing (multipart included), so a huge upload is refused after
`max_bytes` have been read instead of being spooled to disk first.
"""

from __future__ import annotations

import json
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simkyc.errors import Reason

__all__ = ["ApiMetrics", "BodySizeLimit", "MetricsMiddleware"]


class _TooLarge(Exception):
    pass


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": Reason.REQUEST_TOO_LARGE.value,
            "status": 413,
            "reason": Reason.REQUEST_TOO_LARGE.value,
            "detail": f"{Reason.REQUEST_TOO_LARGE.message} (limit {limit} bytes)",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413 REQUEST_TOO_LARGE (declared or streamed)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _send_too_large(send, self.max_bytes)
                    return
        seen = 0
        started = False
        too_large = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:  # a body parser turned our refusal into its own error (e.g. multipart -> 400)
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _send_too_large(send, self.max_bytes)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                started = True
                await _send_too_large(send, self.max_bytes)


class ApiMetrics:
    """The app's own Prometheus registry (one per app, so tests can build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "simkyc_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "simkyc_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.decisions = Counter(
            "simkyc_registration_decisions_total",
            "Registration decisions by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.platform_checks = Counter(
            "simkyc_platform_checks_total",
            "Platform consistency checks by result.",
            ["result"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "simkyc_refusals_total",
            "Refusals (problem responses) by reason code.",
            ["reason"],
            registry=self.registry,
        )


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label cardinality), set by the router in the scope."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class MetricsMiddleware:
    """Count requests and time them per route template."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
