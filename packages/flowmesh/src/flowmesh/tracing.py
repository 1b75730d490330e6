"""Tracing for consumers: process a received event or job inside the producer's trace.

Writers stamp ``traceparent`` into the headers of every event written and job
enqueued (the SDK and the HTTP API alike, when tracing is on). A consumer continues
that trace in one line::

    async for message in client.stream.subscribe("acme", "shop", "orders", "billing"):
        with flowmesh.tracing.consume(message):
            await handle(message)

The span (kind consumer, named ``process <resource path>``) is a child of the span
that wrote the message, so the producer's request, the server's write and the
consumer's work are one trace. Without a ``traceparent`` in the headers it is a
child of the current span. With tracing off (no ``OTEL_*`` asking for traces, or the
``otel`` extra not installed) ``consume`` returns a shared do-nothing context manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flowmesh.types import Job, Message
from mimeia_telemetry import tracing

__all__ = ["configure", "consume", "enabled"]

_NOOP: AbstractContextManager[Any] = nullcontext()
_TYPES = (Message, Job)


def configure(service_name: str | None = None) -> bool:
    """Set tracing up from the ``OTEL_*`` variables (``service_name`` unless
    ``OTEL_SERVICE_NAME`` is set); True when it is on. Call it before connecting a
    :class:`~flowmesh.FlowMesh` client: its calls are traced only then."""
    return tracing.configure_tracing(service_name)


def enabled() -> bool:
    """Whether this process exports traces."""
    return tracing.tracing_enabled()


def consume(
    message: Message | Job,
    *,
    name: str | None = None,
    attributes: Mapping[str, str | int | float | bool] | None = None,
) -> AbstractContextManager[Any]:
    """A consumer span around processing ``message`` (a stream :class:`Message` or a
    queue :class:`Job`), continuing the trace in its ``traceparent`` header.

    Enter it with ``with``; it yields the span (None when tracing is off). An
    exception leaving the block is recorded on the span and marks it failed.
    ``name`` replaces ``process <resource path>``; ``attributes`` are added.
    """
    # the exact types first: pydantic's isinstance is slow for an off path
    if type(message) not in _TYPES and not isinstance(message, _TYPES):
        raise TypeError(
            f"message: expected a flowmesh Message or Job, got {type(message).__name__}"
        )
    if not tracing.tracing_enabled():
        return _NOOP
    path = message.resource_path
    span_attributes: dict[str, Any] = {
        "messaging.system": "flowmesh",
        "messaging.operation.type": "process",
        "messaging.destination.name": path or None,
        "messaging.message.id": message.id or None,
    }
    if isinstance(message, Message):
        span_attributes["messaging.destination.partition.id"] = str(message.partition)
        span_attributes["flowmesh.offset"] = message.offset
    else:
        span_attributes["flowmesh.attempts"] = message.attempts
    if attributes:
        span_attributes.update(attributes)
    headers = message.headers
    return tracing.span(
        name or f"process {path or type(message).__name__.lower()}",
        kind="consumer",
        attributes=span_attributes,
        parent=headers if "traceparent" in headers else None,
        tracer="flowmesh.sdk",
    )
