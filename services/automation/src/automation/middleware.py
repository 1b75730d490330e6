"""ASGI middleware: request ids, access logs and HTTP metrics, rate limiting."""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from automation.logs import accept_request_id, request_id_var
from automation.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger("automation.access")

EXEMPT_PATHS = ("/health", "/ready", "/live", "/metrics")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestContextMiddleware:
    """Accept or make a request id, return it, log the request and count it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status_code)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info("%s %s %s %.1fms", scope["method"], scope["path"], status_code, elapsed * 1000)
            request_id_var.reset(token)


class RateLimitMiddleware:
    """Per-client limits (the `limits` library; Redis or in-memory storage).

    A client is its address plus the tenant it names; 429 answers carry Retry-After.
    """

    def __init__(self, app: ASGIApp, limit: str, storage_url: str, key_prefix: str) -> None:
        self.app = app
        self.item = parse(limit)
        options: dict[str, Any] = {}
        if storage_url.startswith("async+redis"):
            options = {"implementation": "redispy", "key_prefix": key_prefix}
        storage = storage_from_string(storage_url, **options)
        if not isinstance(storage, Storage):
            raise ValueError(f"rate limit storage {storage_url!r} is not an async+ storage")
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PATHS):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = client[0] if client else "unknown"
        tenant = _header(scope, b"x-tenant-id") or "-"
        key = (host, tenant[:64])
        if await self.limiter.hit(self.item, *key):
            await self.app(scope, receive, send)
            return
        stats = await self.limiter.get_window_stats(self.item, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        body = json.dumps({"detail": "rate limit exceeded", "retry_after": retry_after}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
