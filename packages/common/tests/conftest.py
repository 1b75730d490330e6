"""A scripted HTTP peer for the mesh client's failure paths.

It plays a receiver that answers with the statuses a test lists (429, 503,
...) before accepting, so retries, Retry-After and give-up paths run over
real sockets. The happy path is tested against the real receiver.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class ScriptedPeer:
    url: str
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def records(self) -> list[dict[str, object]]:
        out = []
        for _path, headers, body in self.requests:
            raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
            out.extend(json.loads(line) for line in raw.splitlines() if line)
        return out


@pytest.fixture
def scripted_peer() -> Iterator[ScriptedPeer]:
    peer = ScriptedPeer(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status, extra = peer.script.pop(0) if peer.script else (200, {})
                # (200, {"x-test-stall": "s"}): store the batch, then answer s seconds late
                stall = float(extra.pop("x-test-stall", "0"))
                if status == 200:
                    peer.requests.append((self.path, headers, body))
            time.sleep(stall)
            answer = json.dumps(
                {"batch_id": headers.get("x-mesh-batch-id"), "accepted": 1, "duplicate": False}
                if status == 200
                else {"error": f"scripted {status}", "field": "test"}
            ).encode()
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class MeshStack:
    flowmesh_endpoint: str
    receiver_url: str


@pytest.fixture(scope="session")
def flowmesh_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `flowmesh serve` on a fresh SQLite file."""
    from mimeia.testing.mesh import run_flowmesh

    with run_flowmesh(tmp_path_factory.mktemp("flowmesh")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def mesh_stack(flowmesh_endpoint: str) -> Iterator[MeshStack]:
    """A real `common-mesh serve` writing to that FlowMesh."""
    from mimeia.testing.mesh import run_receiver

    with run_receiver(flowmesh_endpoint) as url:
        yield MeshStack(flowmesh_endpoint, url)
