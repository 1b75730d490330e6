"""A server span around every HTTP request of an ASGI app, continuing the caller's
``traceparent``. Pure ASGI (no framework import); a pass-through when tracing is off."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mimeia_telemetry import tracing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["TraceMiddleware"]


def _headers(scope: Scope) -> dict[str, str]:
    wanted = (b"traceparent", b"tracestate", b"baggage")
    return {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope.get("headers", [])
        if key in wanted
    }


def _route(scope: Scope) -> str | None:
    """The route template (``/api/v1/things/{id}``) when the framework left one in the
    scope (Starlette, FastAPI), with the prefix an included router was mounted under."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return None
    path = str(scope.get("path", ""))
    regex = getattr(route, "path_regex", None)
    if regex is not None and not regex.fullmatch(path):
        for i, char in enumerate(path):
            if char == "/" and regex.fullmatch(path[i:]):
                return f"{path[:i]}{template}"
    return str(template)


class TraceMiddleware:
    """Outermost middleware: ``GET /api/v1/things/{id}`` spans, kind server."""

    def __init__(self, app: ASGIApp, *, skip: tuple[str, ...] = ("/health", "/metrics")) -> None:
        self.app = app
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not tracing._on or scope["type"] != "http" or scope.get("path", "") in self.skip:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        attributes = {
            "http.request.method": method,
            "url.path": scope.get("path"),
            "url.scheme": scope.get("scheme"),
        }
        with tracing.span(
            method,
            kind="server",
            attributes=attributes,
            parent=_headers(scope),
            tracer="mimeia.asgi",
        ) as current:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    tracing.set_http_status(current, int(message["status"]))
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            finally:
                route = _route(scope)
                if route:
                    current.set_attribute("http.route", route)
                # no template: the method alone, so raw paths with ids never name spans
                current.update_name(f"{method} {route}" if route else method)
