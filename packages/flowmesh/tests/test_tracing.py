"""FlowMesh under OpenTelemetry (``OTEL_*`` only): the SDK's call is a client span whose
``traceparent`` reaches the server (a server span under it) and rides in the headers
of the event written, so whoever reads the event continues the producer's trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from mimeia.testing import free_port, run_server
from mimeia_telemetry.testing import OtlpReceiver

PRODUCER = textwrap.dedent(
    """
    import asyncio, json, sys
    from flowmesh import Event, FlowMesh
    from mimeia_telemetry import tracing

    async def main() -> None:
        assert tracing.configure_tracing("producer")
        parent = {"traceparent": "00-" + sys.argv[2] + "-00f067aa0ba902b7-01"}
        async with FlowMesh(endpoint=sys.argv[1]) as fm:
            with tracing.span("produce", parent=parent):
                await fm.stream.write("t1", "ns", "orders", [Event(payload=b"{}")])
            [message] = await fm.stream.read("t1", "ns", "orders", 0, 0, 1)
            print(json.dumps(dict(message.headers)))
        tracing.flush()

    asyncio.run(main())
    """
)


def _wait_for(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.1)


def test_write_is_one_trace_from_producer_to_server_and_event(tmp_path: Path) -> None:
    otlp = OtlpReceiver()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    port = free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--port", str(port),
            "--store", f"sqlite:///{tmp_path}/flowmesh.db", "--log-format", "json"]  # fmt: skip
    try:
        with run_server(argv, env=env, timeout=60):
            out = subprocess.run(
                [sys.executable, "-c", PRODUCER, f"127.0.0.1:{port}", trace_id],
                env={**os.environ, **env},
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert out.returncode == 0, out.stderr[-3000:]
            headers = json.loads(out.stdout.strip().splitlines()[-1])
            _wait_for(lambda: any(s.service == "flowmesh" for s in otlp.trace(trace_id)))
    finally:
        otlp.close()
    spans = otlp.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    client = next(s for s in spans if s.name == "flowmesh WriteEvents")
    server = next(s for s in spans if s.name == "flowmesh.server WriteEvents")
    assert client.service == "producer" and client.kind == 3  # CLIENT
    assert server.service == "flowmesh" and server.kind == 2  # SERVER
    assert server.parent_id == client.span_id
    assert by_id[client.parent_id].name == "produce"
    # the event carries the producer's context: a reader continues this trace
    _, event_trace, event_parent, _ = headers["traceparent"].split("-")
    assert event_trace == trace_id and event_parent == client.span_id


CONSUMER = textwrap.dedent(
    """
    import asyncio, contextlib, json, sys
    import flowmesh
    from flowmesh import Event, FlowMesh, FlowMeshInvalidArgumentError
    from mimeia_telemetry import tracing

    async def main() -> None:
        assert flowmesh.tracing.configure("app")
        endpoint, trace_id = sys.argv[1], sys.argv[2]
        out = {}
        async with FlowMesh(endpoint=endpoint) as fm:
            parent = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
            with tracing.span("produce", parent=parent):
                await fm.stream.write("t1", "ns", "orders", [Event(payload=b"{}")])
            # the subscriber: outside the producer's span, it continues the trace from
            # the message's headers
            feed = fm.stream.subscribe("t1", "ns", "orders", "billing", start_offset=0)
            async with contextlib.aclosing(feed):
                async for message in feed:
                    with flowmesh.tracing.consume(message) as span:
                        out["consume"] = tracing.current_ids()
                        out["recording"] = span is not None
                    break
            try:  # a subscription the server refuses: its span records the failure
                async for _ in fm.stream.subscribe("t1", "ns", "bad name!", "g"):
                    pass
            except FlowMeshInvalidArgumentError as exc:
                out["refused"] = str(exc)
        await asyncio.sleep(0.2)  # the streams' client spans end in done callbacks
        tracing.flush()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def test_trace_runs_from_producer_through_subscribe_into_the_consumer_and_over_http(
    tmp_path: Path,
) -> None:
    """One server with tracing on, gRPC and HTTP: a write and a subscription are server
    spans (the subscription's covering its life, a refused one failed), the consumer's
    span continues the producer's trace, and an HTTP write joins the caller's trace and
    stamps its traceparent on the stored event."""
    otlp = OtlpReceiver()
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    http_trace = "5b8efff798038103d269b633813fc60c"
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    port, http_port = free_port(), free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--port", str(port),
            "--http-addr", f"127.0.0.1:{http_port}",
            "--store", f"sqlite:///{tmp_path}/flowmesh.db", "--log-level", "warning"]  # fmt: skip
    base = f"http://127.0.0.1:{http_port}/api/v1/streams/t1/ns/web"
    try:
        with run_server(argv, env=env, timeout=60):
            out = subprocess.run(
                [sys.executable, "-c", CONSUMER, f"127.0.0.1:{port}", trace_id],
                env={**os.environ, **env},
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert out.returncode == 0, out.stderr[-3000:]
            result = json.loads(out.stdout.strip().splitlines()[-1])
            caller_span = "b7ad6b7169203331"
            written = httpx.post(
                f"{base}/events",
                json={"events": [{"payload": "e30="}, {"payload": "e30=",
                                  "headers": {"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}}]},
                headers={"traceparent": f"00-{http_trace}-{caller_span}-01"},
                timeout=10,
            )  # fmt: skip
            assert written.status_code == 200, written.text
            stored = httpx.get(f"{base}/messages?max_messages=10", timeout=10).json()["messages"]
            queue = f"http://127.0.0.1:{http_port}/api/v1/queues/t1/ns/mail"
            enqueued = httpx.post(
                f"{queue}/jobs",
                json={"payload": "e30="},
                timeout=10,
                headers={"traceparent": f"00-{http_trace}-{caller_span}-01"},
            )
            assert enqueued.status_code == 200, enqueued.text
            job = httpx.post(f"{queue}/reserve", json={}, timeout=10).json()["job"]

            def exported() -> bool:
                names = {s.name for s in otlp.spans}
                return {"flowmesh.server Subscribe", "POST /api/v1/streams/{tenant}/"
                        "{namespace}/{name}/events", "POST /api/v1/queues/{tenant}/"
                        "{namespace}/{name}/reserve"} <= names and sum(
                    s.name == "flowmesh.server Subscribe" for s in otlp.spans) == 2  # fmt: skip

            _wait_for(exported)
    finally:
        otlp.close()
    spans = otlp.trace(trace_id)
    client = next(s for s in spans if s.name == "flowmesh WriteEvents")
    write = next(s for s in spans if s.name == "flowmesh.server WriteEvents")
    assert write.service == "flowmesh" and write.parent_id == client.span_id
    # the consumer's span: a child of the producer's client span, through the headers
    assert result["recording"] is True
    consume = next(s for s in spans if s.name == "process t1/ns/stream/orders")
    assert consume.service == "app" and consume.kind == 5  # CONSUMER
    assert consume.parent_id == client.span_id
    assert tuple(result["consume"]) == (trace_id, consume.span_id)
    assert consume.attribute("flowmesh.offset") == 0
    # each subscription: a client span for the stream's life, a server span under it
    subscribes = [s for s in otlp.spans if s.name == "flowmesh.server Subscribe"]
    by_id = {s.span_id: s for s in otlp.spans}
    ok = next(s for s in subscribes if s.attribute("messaging.destination.name")
              == "t1/ns/stream/orders")  # fmt: skip
    assert ok.service == "flowmesh" and ok.kind == 2 and ok.status != 2
    assert ok.attribute("messaging.consumer.group.name") == "billing"
    assert ok.attribute("flowmesh.frames_sent") == 1
    assert by_id[ok.parent_id].name == "flowmesh Subscribe"
    assert by_id[ok.parent_id].service == "app"
    refused = next(s for s in subscribes if s is not ok)
    assert refused.status == 2 and refused.attribute("rpc.grpc.status_code") == 3
    assert "name" in result["refused"]
    assert by_id[refused.parent_id].name == "flowmesh Subscribe"
    # HTTP: a server span in the caller's trace; the event without a traceparent got
    # the server span's, the one with its own kept it
    http = {s.name: s for s in otlp.trace(http_trace) if s.service == "flowmesh"}
    request = http["POST /api/v1/streams/{tenant}/{namespace}/{name}/events"]
    assert request.kind == 2 and request.parent_id == caller_span
    first, second = (m["headers"]["traceparent"] for m in stored)
    assert first == f"00-{http_trace}-{request.span_id}-01"
    assert second == f"00-{'1' * 32}-{'2' * 16}-01"
    # a job enqueued over HTTP carries the enqueue request's span to its worker
    enqueue = http["POST /api/v1/queues/{tenant}/{namespace}/{name}/jobs"]
    assert job["headers"]["traceparent"] == f"00-{http_trace}-{enqueue.span_id}-01"
