"""The data-mesh path under one trace (``OTEL_*`` only, real processes): the mesh
client's POST (a client span carrying ``traceparent``), the receiver's server span
under it, the receiver's FlowMesh write under that, and FlowMesh's server span."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from mimeia.testing import free_port, run_server
from mimeia.testing.mesh import run_receiver
from mimeia_telemetry.testing import OtlpReceiver

SENDER = textwrap.dedent(
    """
    import sys
    from pydantic import BaseModel
    from common_mesh import MeshEngine
    from mimeia_telemetry import tracing

    class Row(BaseModel):
        id: int

    assert tracing.configure_tracing("sender")
    parent = {"traceparent": "00-" + sys.argv[2] + "-00f067aa0ba902b7-01"}
    with MeshEngine(base_url=sys.argv[1]) as engine:
        session = engine.create_session("acme", "crm", "rows")
        with tracing.span("send", parent=parent):
            session.send_all_models(Row(id=i) for i in range(3))
    tracing.flush()
    """
)


def test_mesh_client_receiver_and_flowmesh_share_one_trace(tmp_path: Path) -> None:
    otlp = OtlpReceiver()
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4736"
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    port = free_port()
    flowmesh = ["python", "-m", "flowmesh", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--store", f"sqlite:///{tmp_path}/flowmesh.db"]  # fmt: skip
    wanted = {"send", "POST", "POST /v1/streams/{org}/{module}/{model}/batches",
              "flowmesh WriteEvents", "flowmesh.server WriteEvents"}  # fmt: skip
    try:
        with (
            run_server(flowmesh, env=env, timeout=60),
            run_receiver(f"127.0.0.1:{port}", env=env) as url,
        ):
            done = subprocess.run([sys.executable, "-c", SENDER, url, trace_id],
                                  env={**os.environ, **env}, capture_output=True, text=True,
                                  timeout=60)  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if wanted <= {s.name for s in otlp.trace(trace_id)}:
                    break
                time.sleep(0.1)
    finally:
        otlp.close()
    spans = otlp.trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    assert wanted <= {s.name for s in spans}, sorted(s.name for s in spans)
    server = next(s for s in spans if s.name.startswith("POST /v1/streams"))
    assert server.service == "mesh-receiver" and server.kind == 2
    client = by_id[server.parent_id]
    assert client.name == "POST" and client.kind == 3 and client.service == "sender"
    assert by_id[client.parent_id].name == "send"
    write = next(s for s in spans if s.name == "flowmesh WriteEvents")
    assert write.service == "mesh-receiver" and by_id[write.parent_id] == server
    stored = next(s for s in spans if s.name == "flowmesh.server WriteEvents")
    assert stored.service == "flowmesh" and stored.parent_id == write.span_id
