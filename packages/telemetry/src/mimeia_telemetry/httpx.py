"""httpx transports whose requests run in client spans carrying ``traceparent``.

``async_transport(inner)`` / ``sync_transport(inner)`` wrap ``inner`` (None means a
default httpx transport) in a transport that decides on every request: while tracing
is off it hands the request straight to ``inner``; once tracing is on the request runs
in a client span and carries ``traceparent``. So a client built before
``configure_tracing`` is still traced, whatever the construction order. httpx is
imported when a transport is first asked for, not when this module is.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from mimeia_telemetry import tracing

__all__ = ["async_transport", "sync_transport"]


@cache
def _classes() -> tuple[type, type]:
    import httpx

    class AsyncTraced(httpx.AsyncBaseTransport):
        def __init__(self, wrapped: httpx.AsyncBaseTransport) -> None:
            self.wrapped = wrapped

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if not tracing.tracing_enabled():
                return await self.wrapped.handle_async_request(request)
            with tracing.client_span(request.method, str(request.url), request.headers) as span:
                response = await self.wrapped.handle_async_request(request)
                tracing.set_http_status(span, response.status_code)
                return response

        async def aclose(self) -> None:
            await self.wrapped.aclose()

    class SyncTraced(httpx.BaseTransport):
        def __init__(self, wrapped: httpx.BaseTransport) -> None:
            self.wrapped = wrapped

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if not tracing.tracing_enabled():
                return self.wrapped.handle_request(request)
            with tracing.client_span(request.method, str(request.url), request.headers) as span:
                response = self.wrapped.handle_request(request)
                tracing.set_http_status(span, response.status_code)
                return response

        def close(self) -> None:
            self.wrapped.close()

    return AsyncTraced, SyncTraced


def async_transport(inner: Any = None) -> Any:
    import httpx

    return _classes()[0](inner or httpx.AsyncHTTPTransport())


def sync_transport(inner: Any = None) -> Any:
    import httpx

    return _classes()[1](inner or httpx.HTTPTransport())
