"""An OTLP/HTTP trace receiver for tests: ``POST /v1/traces`` decoded with
``opentelemetry-proto`` (installed with the ``otel`` extra)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["OtlpReceiver", "Span"]


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    # the span's attributes (strings, ints, floats, bools), its links as
    # (trace id, span id) pairs and its status code (0 unset, 1 ok, 2 error)
    attributes: Mapping[str, object] = field(default_factory=dict, compare=False)
    links: tuple[tuple[str, str], ...] = ()
    status: int = 0

    def attribute(self, key: str) -> Any:
        """The value of one attribute, or None."""
        return self.attributes.get(key)


_SCALARS = {"string_value", "bool_value", "int_value", "double_value"}


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind in _SCALARS else None


class OtlpReceiver:
    """``POST /v1/traces`` (OTLP/HTTP protobuf), decoded with opentelemetry-proto."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.content_types: set[str] = set()
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                with lock:
                    owner.content_types.add(self.headers.get("content-type", ""))
                    for resource_spans in request.resource_spans:
                        attrs = {a.key: a.value.string_value
                                 for a in resource_spans.resource.attributes}  # fmt: skip
                        for scope_spans in resource_spans.scope_spans:
                            for s in scope_spans.spans:
                                owner.spans.append(Span(
                                    attrs.get("service.name", ""), s.name, s.kind,
                                    s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(),
                                    {a.key: _value(a.value) for a in s.attributes},
                                    tuple((x.trace_id.hex(), x.span_id.hex()) for x in s.links),
                                    s.status.code,
                                ))  # fmt: skip
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in list(self.spans) if s.trace_id == trace_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
