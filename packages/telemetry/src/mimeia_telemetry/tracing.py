"""OpenTelemetry tracing, configured only by the standard ``OTEL_*`` variables.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``) or an
OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)
is set, and ``OTEL_SDK_DISABLED`` is not ``true``. When off (or when the ``otel``
extra is not installed) every helper here is a no-op costing one global read:
``span()`` and ``resume()`` return a shared null context manager, ``inject()``
returns the headers unchanged, ``current_ids()`` returns ``(None, None)`` and
``current_traceparent()`` None.

Work that outlives its request (a queued delivery retried by a sweep an hour later)
keeps the request's trace by storing ``current_traceparent()`` with the work and
running each later attempt inside ``resume(stored, "....attempt")``.

The SDK reads the rest itself: ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`` / ``TIMEOUT``,
``OTEL_BSP_*``. Propagation is W3C ``traceparent`` / ``tracestate``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

__all__ = [
    "TRACEPARENT_LENGTH",
    "attach",
    "client_span",
    "configure_tracing",
    "current_ids",
    "current_traceparent",
    "detach",
    "extract",
    "flush",
    "inject",
    "parse_traceparent",
    "record_error",
    "resume",
    "set_http_status",
    "span",
    "start_span",
    "tracing_enabled",
    "wanted",
]

log = logging.getLogger("mimeia_telemetry.tracing")

_NOOP: AbstractContextManager[None] = nullcontext()
_lock = threading.Lock()
_on = False  # the one global read every helper starts with
_provider: Any = None
_pid: int | None = None
_service: str | None = None  # remembered for forked children


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces (without importing anything)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    if exporter:
        return True
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def tracing_enabled() -> bool:
    return _on


def _exporters(env: Mapping[str, str]) -> list[Any]:
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    out: list[Any] = []
    for name in filter(None, names):
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter())
        elif name == "otlp":
            protocol = (
                env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            ).strip()
            if protocol == "grpc":
                try:
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                        OTLPSpanExporter as GrpcExporter,
                    )
                except ImportError:
                    log.warning(
                        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs "
                        "opentelemetry-exporter-otlp-proto-grpc; no traces exported"
                    )
                    continue
                out.append(GrpcExporter())
            elif protocol == "http/protobuf":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                out.append(OTLPSpanExporter())
            else:
                log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported", protocol)
        else:
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported; use otlp or console", name)
    return out


def configure_tracing(service_name: str | None = None, *, force: bool = False) -> bool:
    """Set up the global tracer provider from the environment; True when tracing is on.

    Idempotent per process (a forked child configures its own: call it again after
    fork). ``service_name`` is used only when ``OTEL_SERVICE_NAME`` is not set.
    """
    global _on, _provider, _pid, _service
    with _lock:
        service_name = service_name or _service
        _service = service_name
        if _pid == os.getpid() and not force:
            return _on
        _pid = os.getpid()
        _on = False
        if not wanted():
            return False
        try:
            from opentelemetry import propagate, trace
            from opentelemetry.baggage.propagation import W3CBaggagePropagator
            from opentelemetry.propagators.composite import CompositePropagator
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
        except ImportError:
            log.warning("OTEL_* asks for traces but the otel extra is not installed")
            return False
        attrs: dict[str, str] = {}
        if service_name and not os.environ.get("OTEL_SERVICE_NAME"):
            attrs["service.name"] = service_name
        provider = TracerProvider(resource=Resource.create(attrs))
        for exporter in _exporters(os.environ):
            provider.add_span_processor(BatchSpanProcessor(exporter))
        if _provider is None:  # the global can be set once; a forked child keeps its own
            trace.set_tracer_provider(provider)
        _provider = provider
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        _on = True
        return True


def _tracer(name: str) -> Any:
    return _provider.get_tracer(name)


_KINDS: dict[str, Any] = {}


def _kind(kind: str) -> Any:
    if not _KINDS:
        from opentelemetry.trace import SpanKind

        _KINDS.update(
            server=SpanKind.SERVER,
            client=SpanKind.CLIENT,
            producer=SpanKind.PRODUCER,
            consumer=SpanKind.CONSUMER,
            internal=SpanKind.INTERNAL,
        )
    return _KINDS[kind]


def span(
    name: str,
    *,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
    parent: Mapping[str, str] | None = None,
    tracer: str = "mimeia",
) -> AbstractContextManager[Any]:
    """A context manager around a span (the span, or None when tracing is off).

    ``kind``: server, client, producer, consumer or internal. ``parent``: carrier
    headers (``traceparent``) to continue instead of the current span.
    """
    if not _on:
        return _NOOP
    context = extract(parent) if parent is not None else None
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    return _tracer(tracer).start_as_current_span(
        name, context=context, kind=_kind(kind), attributes=clean
    )


def start_span(
    name: str,
    *,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
    parent: Mapping[str, str] | None = None,
    tracer: str = "mimeia",
) -> Any:
    """A started span that is *not* made current (None when tracing is off), for work
    that ends later, somewhere else (a callback); the caller ends it (``.end()``).
    Its parent is the current span, or the carrier ``parent`` when given."""
    if not _on:
        return None
    context = extract(parent) if parent is not None else None
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    return _tracer(tracer).start_span(name, context=context, kind=_kind(kind), attributes=clean)


def inject(headers: MutableMapping[str, str], within: Any = None) -> MutableMapping[str, str]:
    """Write the current span's ``traceparent`` (and ``tracestate``) into ``headers``;
    ``within``: that span's instead (one from :func:`start_span`)."""
    if _on:
        from opentelemetry import propagate, trace

        context = trace.set_span_in_context(within) if within is not None else None
        propagate.inject(headers, context=context)
    return headers


def extract(carrier: Mapping[str, str] | None) -> Any:
    """The OpenTelemetry context a carrier's ``traceparent`` names (None when off)."""
    if not _on:
        return None
    from opentelemetry import propagate

    lowered = {str(k).lower(): v for k, v in (carrier or {}).items() if isinstance(v, str)}
    return propagate.extract(lowered)


def attach(carrier: Mapping[str, str] | None) -> object | None:
    """Make the carrier's trace the current context; pass the token to ``detach``."""
    if not _on:
        return None
    from opentelemetry import context

    return context.attach(extract(carrier))


def detach(token: Any) -> None:
    if token is not None:
        from opentelemetry import context

        context.detach(token)


def current_ids() -> tuple[str | None, str | None]:
    """The current trace id and span id as hex, or (None, None)."""
    if not _on:
        return None, None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


# W3C trace context, version 00: the only version whose layout is fixed (55 characters)
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TRACEPARENT_LENGTH = 55


def current_traceparent() -> str | None:
    """The current span as a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``,
    55 characters), to store with work that runs later; None when tracing is off or
    no span is current."""
    if not _on:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def parse_traceparent(value: str | None) -> tuple[int, int, int] | None:
    """``(trace id, span id, flags)`` of a version-00 ``traceparent``; None when it is
    missing or malformed (wrong layout, upper-case hex, an all-zero id)."""
    if not value:
        return None
    found = _TRACEPARENT.fullmatch(value)
    if found is None:
        return None
    trace_id, span_id = int(found[1], 16), int(found[2], 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(found[3], 16)


def resume(
    traceparent: str | None,
    name: str,
    *,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
    tracer: str = "mimeia",
    **attrs: Any,
) -> AbstractContextManager[Any]:
    """A span in the trace ``traceparent`` names, for work stored earlier and run now
    (yields the span; None when tracing is off or ``traceparent`` is None or malformed).

    When the current span already belongs to that trace (the first attempt, run by the
    task the request queued) the new span nests under the current one, keeping the
    causal chain. Otherwise (a sweep, a replay: another trace or none) its parent is
    the stored span, and it links to the current span so the two traces are one
    click apart. ``attrs`` and ``attributes`` (for dotted names) become attributes.
    """
    if not _on:
        return _NOOP
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return _NOOP
    from opentelemetry import trace

    trace_id, span_id, flags = parsed
    current = trace.get_current_span().get_span_context()
    context = None
    links = None
    if not (current.is_valid and current.trace_id == trace_id):
        stored = trace.SpanContext(
            trace_id=trace_id, span_id=span_id, is_remote=True, trace_flags=trace.TraceFlags(flags)
        )
        context = trace.set_span_in_context(trace.NonRecordingSpan(stored))
        links = [trace.Link(current)] if current.is_valid else None
    clean = {k: v for k, v in {**(attributes or {}), **attrs}.items() if v is not None}
    return _tracer(tracer).start_as_current_span(
        name, context=context, kind=_kind(kind), attributes=clean, links=links
    )


def record_error(current: Any, exc: BaseException, *, details: bool = True) -> None:
    """Mark a span failed with the exception's type; ``details=False`` keeps its message
    and traceback out of the span (messages that may name a recipient)."""
    if current is not None:
        from opentelemetry.trace import Status, StatusCode

        if details:
            current.record_exception(exc)
        current.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def flush(timeout_millis: int = 5000) -> None:
    """Export what is buffered (before a process or a forked child exits)."""
    if _on and _provider is not None:
        _provider.force_flush(timeout_millis)


def _strip_query(url: str) -> str:
    # query strings and user:password@ carry secrets often enough; spans keep scheme,
    # host, port and path
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@contextmanager
def _client_span(method: str, url: str, headers: MutableMapping[str, str]) -> Iterator[Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    attributes = {
        "http.request.method": method,
        "url.full": _strip_query(url),
        "server.address": parts.hostname,
        "server.port": parts.port,
    }
    with span(method, kind="client", attributes=attributes, tracer="mimeia.http") as current:
        inject(headers)
        yield current


def client_span(
    method: str, url: str, headers: MutableMapping[str, str]
) -> AbstractContextManager[Any]:
    """A client span around one outgoing HTTP request, its ``traceparent`` written into
    ``headers`` (mutated in place). Yields the span, or None when tracing is off."""
    if not _on:
        return _NOOP
    return _client_span(method.upper(), url, headers)


def set_http_status(current: Any, status: int) -> None:
    """Record a response status on a client or server span (errors: 5xx, and 4xx on clients)."""
    if current is None:
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    current.set_attribute("http.response.status_code", status)
    kind = getattr(current, "kind", None)
    if status >= 500 or (status >= 400 and kind == SpanKind.CLIENT):
        current.set_status(Status(StatusCode.ERROR))
