"""OpenTelemetry at FlowMesh's gRPC edges, configured only by ``OTEL_*`` variables.

Client: a span per call, ``traceparent`` in the call's metadata and in the headers of
each event written and job enqueued (unless the caller set one), so a consumer reading
the event later continues the producer's trace. Server: a span per call continuing
the caller's ``traceparent``. With tracing off no interceptor is installed at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from mimeia_telemetry import tracing

__all__ = ["client_interceptors", "server_interceptors"]

# requests whose repeated messages carry headers a reader sees later
_HEADERED = {"WriteEventsRequest": "events", "EnqueueBatchRequest": "jobs"}


def _stamp(request: Any) -> None:
    kind = type(request).__name__
    items = getattr(request, _HEADERED[kind]) if kind in _HEADERED else [request]
    for item in items:
        headers = getattr(item, "headers", None)
        if headers is not None and "traceparent" not in headers:
            for key, value in tracing.inject({}).items():
                headers[key] = value


def _method(details: Any) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)


class _ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], details: Any, request: Any
    ) -> Any:
        method = _method(details)
        name = method.rsplit("/", 2)[-2:]
        attributes = {"rpc.system": "grpc", "rpc.service": name[0], "rpc.method": name[-1]}
        with tracing.span(
            f"flowmesh {name[-1]}", kind="client", attributes=attributes, tracer="flowmesh.sdk"
        ):
            carrier = tracing.inject({})
            metadata = list(details.metadata or []) + list(carrier.items())
            details = details._replace(metadata=metadata)
            _stamp(request)
            call = await continuation(details, request)
            await call  # the span covers the round trip
            return call


def client_interceptors() -> list[Any]:
    return [_ClientInterceptor()] if tracing.tracing_enabled() else []


class _ServerInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler  # streams keep their own lifetimes; unary calls get spans
        method = _method(details)
        carrier = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        inner = handler.unary_unary
        name = method.rsplit("/", 2)[-2:]
        attributes = {"rpc.system": "grpc", "rpc.service": name[0], "rpc.method": name[-1]}

        async def traced(request: Any, context: Any) -> Any:
            with tracing.span(
                f"flowmesh.server {name[-1]}",
                kind="server",
                attributes=attributes,
                parent=carrier,
                tracer="flowmesh.server",
            ):
                return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            traced,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def server_interceptors(service_name: str = "flowmesh") -> list[Any]:
    """The server process owns its tracing set-up: ``OTEL_*`` decide, off by default."""
    return [_ServerInterceptor()] if tracing.configure_tracing(service_name) else []
