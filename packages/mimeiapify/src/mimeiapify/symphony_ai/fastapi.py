"""FastAPI/Starlette glue: bind the request's shared state for everything it runs.

``SharedStateMiddleware`` (pure ASGI, works for HTTP and WebSocket) resolves
``(tenant, user_id)`` from the connection, binds ``RedisSharedState`` to
``_current_ss`` for the whole request, and always resets it afterwards.
``shared_state_dependency`` does the same per endpoint. A malformed tenant or
user id is answered with 400 instead of reaching Redis.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mimeiapify.symphony_ai.errors import InvalidKeyPartError
from mimeiapify.symphony_ai.redis.context import _current_ss
from mimeiapify.symphony_ai.redis.redis_handler.shared_state import RedisSharedState

Identity = tuple[str, str] | None
Resolver = Callable[[HTTPConnection], Identity | Awaitable[Identity]]


def header_identity(tenant_header: str = "x-tenant-id", user_header: str = "x-user-id") -> Resolver:
    """Resolve ``(tenant, user_id)`` from two request headers (None when either is missing)."""

    def resolve(conn: HTTPConnection) -> Identity:
        tenant = conn.headers.get(tenant_header)
        user_id = conn.headers.get(user_header)
        return (tenant, user_id) if tenant and user_id else None

    return resolve


async def _resolve(resolver: Resolver, conn: HTTPConnection) -> Identity:
    result = resolver(conn)
    if inspect.isawaitable(result):
        result = await result
    return result


class SharedStateMiddleware:
    """ASGI middleware binding ``_current_ss`` per request or WebSocket session."""

    def __init__(
        self, app: ASGIApp, resolve: Resolver | None = None, ttl_default: int | None = None
    ) -> None:
        self.app = app
        self.resolve = resolve or header_identity()
        self.ttl_default = ttl_default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        identity = await _resolve(self.resolve, HTTPConnection(scope))
        if identity is None:
            await self.app(scope, receive, send)
            return
        try:
            kwargs: dict[str, Any] = (
                {} if self.ttl_default is None else {"ttl_default": self.ttl_default}
            )
            state = RedisSharedState(tenant=identity[0], user_id=identity[1], **kwargs)
        except InvalidKeyPartError as exc:
            await _reject(scope, receive, send, str(exc))
            return
        token = _current_ss.set(state)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_ss.reset(token)


async def _reject(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def shared_state_dependency(
    resolve: Resolver | None = None,
) -> Callable[[Request], AsyncIterator[RedisSharedState]]:
    """A FastAPI dependency that binds (and afterwards resets) the request's shared state."""
    resolver = resolve or header_identity()

    async def dependency(request: Request) -> AsyncIterator[RedisSharedState]:
        from fastapi import HTTPException

        identity = await _resolve(resolver, request)
        if identity is None:
            raise HTTPException(status_code=400, detail="tenant and user id are required")
        try:
            state = RedisSharedState(tenant=identity[0], user_id=identity[1])
        except InvalidKeyPartError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        token = _current_ss.set(state)
        try:
            yield state
        finally:
            _current_ss.reset(token)

    return dependency
