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
