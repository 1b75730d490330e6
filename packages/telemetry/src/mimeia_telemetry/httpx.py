"""httpx transports whose requests run in client spans carrying ``traceparent``.

``async_transport(inner)`` / ``sync_transport(inner)`` return ``inner`` unchanged (None
means httpx's default) while tracing is off, so a client built with them costs nothing
extra; with tracing on they wrap it. httpx is imported only when tracing is on.
"""

from __future__ import annotations

from typing import Any

from mimeia_telemetry import tracing

__all__ = ["async_transport", "sync_transport"]


def async_transport(inner: Any = None) -> Any:
    if not tracing.tracing_enabled():
        return inner
    import httpx

    class Traced(httpx.AsyncBaseTransport):
        def __init__(self, wrapped: httpx.AsyncBaseTransport) -> None:
            self.wrapped = wrapped

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            with tracing.client_span(request.method, str(request.url), request.headers) as span:
                response = await self.wrapped.handle_async_request(request)
                tracing.set_http_status(span, response.status_code)
                return response

        async def aclose(self) -> None:
            await self.wrapped.aclose()

    return Traced(inner or httpx.AsyncHTTPTransport())


def sync_transport(inner: Any = None) -> Any:
    if not tracing.tracing_enabled():
        return inner
    import httpx

    class Traced(httpx.BaseTransport):
        def __init__(self, wrapped: httpx.BaseTransport) -> None:
            self.wrapped = wrapped

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            with tracing.client_span(request.method, str(request.url), request.headers) as span:
                response = self.wrapped.handle_request(request)
                tracing.set_http_status(span, response.status_code)
                return response

        def close(self) -> None:
            self.wrapped.close()

    return Traced(inner or httpx.HTTPTransport())
