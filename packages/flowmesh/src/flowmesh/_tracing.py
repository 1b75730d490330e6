"""OpenTelemetry at FlowMesh's gRPC edges, configured only by ``OTEL_*`` variables.

Client: a span per call, ``traceparent`` in the call's metadata and in the headers of
each event written and job enqueued (unless the caller set one), so a consumer reading
the event later continues the producer's trace. A streaming call (Subscribe) gets a
client span that lasts as long as the stream. Server: a span per call continuing the
caller's ``traceparent``; for a streaming call it covers the stream's whole life. With
tracing off no interceptor is installed at all, so no call pays for any of this.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc

from mimeia_telemetry import tracing

__all__ = ["client_interceptors", "server_interceptors", "stamp_headers"]

# requests whose repeated messages carry headers a reader sees later
_HEADERED = {"WriteEventsRequest": "events", "EnqueueBatchRequest": "jobs"}
_CODES = {code.value[0]: code for code in grpc.StatusCode}
# the end-of-stream tasks of client stream spans, kept referenced until they finish
_ENDING: set[asyncio.Task[None]] = set()


def _stamp(request: Any) -> None:
    kind = type(request).__name__
    items = getattr(request, _HEADERED[kind]) if kind in _HEADERED else [request]
    for item in items:
        headers = getattr(item, "headers", None)
        if headers is not None and "traceparent" not in headers:
            for key, value in tracing.inject({}).items():
                headers[key] = value


def stamp_headers(all_headers: list[Any]) -> None:
    """The current span's ``traceparent`` into each headers mapping that has none (the
    HTTP API's writes: the same rule as the SDK's). Call only with tracing on."""
    carrier = tracing.inject({})
    if not carrier:
        return
    for headers in all_headers:
        if "traceparent" not in headers:
            headers.update(carrier)


def _method(details: Any) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)


def _rpc_attributes(method: str) -> tuple[str, dict[str, Any]]:
    name = method.rsplit("/", 2)[-2:]
    return name[-1], {"rpc.system": "grpc", "rpc.service": name[0], "rpc.method": name[-1]}


def _request_attributes(request: Any) -> dict[str, Any]:
    """Where a streaming call reads from: its resource, group and partition (no payloads)."""
    out: dict[str, Any] = {}
    for field in ("resource_path", "stream"):
        path = getattr(request, field, None)
        if path is None:
            continue
        if isinstance(path, str):  # "tenant/namespace/stream/name"
            out["messaging.destination.name"] = path or None
        elif request.HasField(field):
            out["messaging.destination.name"] = (
                f"{path.tenant}/{path.namespace}/{path.resource_type}/{path.name}"
            )
        break
    group = getattr(request, "consumer_group", None)
    if group:
        out["messaging.consumer.group.name"] = group
    partition = getattr(request, "partition", None)
    if isinstance(partition, int):
        out["messaging.destination.partition.id"] = str(partition)
    return out


def _end_status(current: Any, code: grpc.StatusCode | None) -> None:
    """Record a call's final gRPC code; a cancelled stream (the usual way a subscriber
    stops) is no error."""
    if current is None or code is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_attribute("rpc.grpc.status_code", code.value[0])
    if code not in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):
        current.set_status(Status(StatusCode.ERROR, code.name))


class _ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], details: Any, request: Any
    ) -> Any:
        name, attributes = _rpc_attributes(_method(details))
        with tracing.span(
            f"flowmesh {name}", kind="client", attributes=attributes, tracer="flowmesh.sdk"
        ):
            carrier = tracing.inject({})
            metadata = list(details.metadata or []) + list(carrier.items())
            details = details._replace(metadata=metadata)
            _stamp(request)
            call = await continuation(details, request)
            await call  # the span covers the round trip
            return call


class _StreamClientInterceptor(grpc.aio.UnaryStreamClientInterceptor):
    """A client span from the call to the stream's end (ended by the call's done
    callback: the caller iterates the stream wherever it likes)."""

    async def intercept_unary_stream(
        self, continuation: Callable[..., Awaitable[Any]], details: Any, request: Any
    ) -> Any:
        name, attributes = _rpc_attributes(_method(details))
        attributes.update(_request_attributes(request))
        current = tracing.start_span(
            f"flowmesh {name}", kind="client", attributes=attributes, tracer="flowmesh.sdk"
        )
        carrier = tracing.inject({}, within=current)
        details = details._replace(metadata=list(details.metadata or []) + list(carrier.items()))
        try:
            call = await continuation(details, request)
        except BaseException:
            current.end()
            raise

        async def finish(done: Any) -> None:
            try:
                code = await done.code()
            except BaseException:
                code = None
            _end_status(current, code)
            current.end()

        def on_done(done: Any) -> None:
            task = asyncio.get_running_loop().create_task(finish(done))
            _ENDING.add(task)
            task.add_done_callback(_ENDING.discard)

        call.add_done_callback(on_done)
        return call


def client_interceptors() -> list[Any]:
    if not tracing.tracing_enabled():
        return []
    return [_ClientInterceptor(), _StreamClientInterceptor()]


def _carrier(details: Any) -> dict[str, str]:
    return {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}


def _server_code(context: Any) -> grpc.StatusCode | None:
    code = getattr(context, "code", None)
    try:
        found = code() if callable(code) else None
    except Exception:
        return None
    return found if isinstance(found, grpc.StatusCode) else None


class _ServerInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        handler = await continuation(details)
        if handler is None:
            return handler
        name, attributes = _rpc_attributes(_method(details))
        carrier = _carrier(details)
        span_name = f"flowmesh.server {name}"
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def traced(request: Any, context: Any) -> Any:
                with tracing.span(span_name, kind="server", attributes=attributes,
                                  parent=carrier, tracer="flowmesh.server"):  # fmt: skip
                    return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(traced, **codec)
        if handler.unary_stream is not None:
            unary_stream = handler.unary_stream

            async def traced_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                async for item in _stream_span(
                    span_name, {**attributes, **_request_attributes(request)}, carrier,
                    context, unary_stream(request, context),
                ):  # fmt: skip
                    yield item

            return grpc.unary_stream_rpc_method_handler(traced_stream, **codec)
        if handler.stream_stream is not None:
            stream_stream = handler.stream_stream

            async def traced_streams(requests: Any, context: Any) -> AsyncIterator[Any]:
                async for item in _stream_span(span_name, attributes, carrier, context,
                                               stream_stream(requests, context)):  # fmt: skip
                    yield item

            return grpc.stream_stream_rpc_method_handler(traced_streams, **codec)
        if handler.stream_unary is not None:
            stream_unary = handler.stream_unary

            async def traced_upload(requests: Any, context: Any) -> Any:
                with tracing.span(span_name, kind="server", attributes=attributes,
                                  parent=carrier, tracer="flowmesh.server"):  # fmt: skip
                    return await stream_unary(requests, context)

            return grpc.stream_unary_rpc_method_handler(traced_upload, **codec)
        return handler


async def _stream_span(
    name: str,
    attributes: Mapping[str, Any],
    carrier: Mapping[str, str],
    context: Any,
    frames: Any,
) -> AsyncIterator[Any]:
    """Re-yield a streaming handler's frames inside one server span: the stream's whole
    life, the frames it sent, and its final status. A failure is the abort's code, or
    the code of a failure frame (a Subscribe sends its error as a last frame first: the
    client may hang up on it before the abort)."""
    with tracing.span(name, kind="server", attributes=attributes, parent=carrier,
                      tracer="flowmesh.server") as current:  # fmt: skip
        sent = 0
        failed: grpc.StatusCode | None = None
        try:
            if hasattr(frames, "__aiter__"):
                async for frame in frames:
                    sent += 1
                    status = getattr(frame, "status", None)
                    if status is not None and status.code and frame.HasField("status"):
                        failed = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
                    yield frame
            else:  # a handler that writes with context.write() and returns
                await frames
        finally:
            current.set_attribute("flowmesh.frames_sent", sent)
            _end_status(current, _server_code(context) or failed)


def server_interceptors(service_name: str = "flowmesh") -> list[Any]:
    """The server process owns its tracing set-up: ``OTEL_*`` decide, off by default."""
    return [_ServerInterceptor()] if tracing.configure_tracing(service_name) else []
