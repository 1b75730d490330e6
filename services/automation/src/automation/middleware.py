"""ASGI middleware: request ids, access logs and HTTP metrics, rate limiting."""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from automation.auth import principal_from_headers
from automation.logs import accept_request_id, request_id_var
from automation.metrics import HTTP_LATENCY, HTTP_REQUESTS
from automation.settings import Settings
from mimeia_telemetry.asgi import redacted_path

log = logging.getLogger("automation.access")

EXEMPT_PATHS = ("/health", "/ready", "/live", "/metrics")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_label(scope: Scope) -> str:
    """The route template (``/api/v1/workflows/{workflow_id}``), never the raw path,
    so metric labels stay few."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return "unmatched"
    path: str = scope.get("path", "")
    regex = getattr(route, "path_regex", None)
    # Routes of an included router carry their own path; find the static prefix
    # they were mounted under.
    if regex is not None and not regex.fullmatch(path):
        for i, char in enumerate(path):
            if char == "/" and regex.fullmatch(path[i:]):
                return f"{path[:i]}{template}"
    return str(template)


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
            # the path with secrets (an inbound-webhook token) shown as ***
            path = redacted_path(scope)
            log.info("%s %s %s %.1fms", scope["method"], path, status_code, elapsed * 1000)
            request_id_var.reset(token)


def client_key(scope: Scope, settings: Settings) -> tuple[str, ...]:
    """Who a request counts against: the authenticated principal (a verified JWT's
    tenant and subject, or the internal key's tenant), else the client address.
    Headers that do not authenticate (a bare X-Tenant-ID, a forged token) never
    change the key, so rotating them buys no fresh budget."""
    try:
        principal = principal_from_headers(Request(scope), settings)
    except HTTPException:
        client = scope.get("client")
        return ("address", client[0] if client else "unknown")
    return (principal.kind, principal.tenant_id, principal.subject[:128])


class RateLimitMiddleware:
    """Per-client limits (the `limits` library; Redis or in-memory storage).

    A client is its authenticated principal, or its address when the request does
    not authenticate (see :func:`client_key`); 429 answers carry Retry-After.
    """

    def __init__(
        self, app: ASGIApp, limit: str, storage_url: str, key_prefix: str, settings: Settings
    ) -> None:
        self.app = app
        self.settings = settings
        self.item = parse(limit)
        options: dict[str, Any] = {}
        if storage_url.startswith("async+redis"):
            options = {"implementation": "redispy", "key_prefix": key_prefix}
        storage = storage_from_string(storage_url, **options)
        if not isinstance(storage, Storage):
            raise ValueError(f"rate limit storage {storage_url!r} is not an async+ storage")
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PATHS):
            await self.app(scope, receive, send)
            return
        key = client_key(scope, self.settings)
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


def _bad_text(value: Any, where: str) -> str | None:
    """Where ``value`` holds text PostgreSQL cannot store (NUL, lone surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where}: NUL characters are not allowed"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where}: not valid Unicode (lone surrogate)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _bad_text(key, f"{where}.<key>") or _bad_text(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if found := _bad_text(item, f"{where}[{i}]"):
                return found
    return None


class StorableTextMiddleware:
    """Refuse, with 422, JSON bodies and paths carrying text no database can store,
    before any handler sees them (the alternative is a database error, a 500)."""

    def __init__(self, app: ASGIApp, max_body: int = 2 * 1024 * 1024) -> None:
        self.app = app
        self.max_body = max_body

    async def _reject(self, send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if b"%00" in raw_path or "\x00" in scope["path"] or b"%00" in scope["query_string"]:
            await self._reject(send, 422, "path: NUL characters are not allowed")
            return
        content_type = _header(scope, b"content-type") or ""
        if scope["method"] not in ("POST", "PUT", "PATCH") or "json" not in content_type:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._reject(send, 413, f"body: larger than {self.max_body} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, RecursionError):
            parsed = None  # the route's own validation reports malformed JSON
        problem = _bad_text(parsed, "body") if parsed is not None else None
        if problem:
            await self._reject(send, 422, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
