"""A server span around every HTTP request of an ASGI app, continuing the caller's
``traceparent``. Pure ASGI (no framework import); a pass-through when tracing is off."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from mimeia_telemetry import tracing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["SECRET_PARAMS", "TraceMiddleware", "redacted_path"]

# Path parameters whose values are secrets (an inbound-webhook URL's token): spans and
# access logs show ``***`` for them.
SECRET_PARAMS: frozenset[str] = frozenset({"token", "secret"})
HIDDEN = "***"

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}")


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


def redacted_path(scope: Scope, secret_params: Collection[str] = SECRET_PARAMS) -> str:
    """The request path with the values of ``secret_params`` replaced by ``***``.

    Route-aware: once the framework has matched a route (``scope["route"]`` and
    ``scope["path_params"]``, as Starlette/FastAPI leave them, 405 answers included),
    the path is rebuilt from the route template, each secret parameter hidden, the
    others as sent. Before routing, or with no secret parameter, the path as sent."""
    path = str(scope.get("path", ""))
    params = scope.get("path_params") or {}
    if not any(name in secret_params for name in params):
        return path
    template = _route(scope)
    if template is None:
        return path

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in secret_params:
            return HIDDEN
        return str(params.get(name, match.group(0)))

    return _PARAM.sub(fill, template)


class TraceMiddleware:
    """Outermost middleware: ``GET /api/v1/things/{id}`` spans, kind server.

    ``url.path`` holds the path with the values of ``secret_params`` (path parameter
    names) shown as ``***``; see :func:`redacted_path`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        skip: tuple[str, ...] = ("/health", "/metrics"),
        secret_params: Collection[str] = SECRET_PARAMS,
    ) -> None:
        self.app = app
        self.skip = skip
        self.secret_params = frozenset(secret_params)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not tracing._on or scope["type"] != "http" or scope.get("path", "") in self.skip:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        attributes = {
            "http.request.method": method,
            # url.path is set once the route is known (secrets hidden), never raw here
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
                # routed by now: a secret in the path (a webhook token) becomes ***
                current.set_attribute("url.path", redacted_path(scope, self.secret_params))
                route = _route(scope)
                if route:
                    current.set_attribute("http.route", route)
                # no template: the method alone, so raw paths with ids never name spans
                current.update_name(f"{method} {route}" if route else method)
