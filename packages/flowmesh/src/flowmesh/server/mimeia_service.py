"""How `mimeia up` starts FlowMesh: on the SQLite store under the state directory,
with the HTTP API and WebSocket next to gRPC (port ``MIMEIA_FLOWMESH_HTTP_PORT``,
default 8674) when the server extra's HTTP parts are installed.

A plain dict (entry point group ``mimeia.services``), so FlowMesh never imports `mimeia`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HTTP_PORT_ENV = "MIMEIA_FLOWMESH_HTTP_PORT"
DEFAULT_HTTP_PORT = 8674


def http_port() -> int | None:
    """The HTTP API's port, or None when starlette or uvicorn is missing."""
    if importlib.util.find_spec("starlette") is None or importlib.util.find_spec("uvicorn") is None:
        return None
    return int(os.environ.get(HTTP_PORT_ENV, DEFAULT_HTTP_PORT))


def _argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["flowmesh"]
    db = Path(state_dir).resolve() / "flowmesh" / "flowmesh.db"
    argv = [
        sys.executable, "-m", "flowmesh", "serve",
        "--grpc-addr", f"{me.host}:{me.port}", "--store", f"sqlite:///{db}",
    ]  # fmt: skip
    port = http_port()
    if port is not None:
        argv += ["--http-addr", f"{me.host}:{port}"]
    return argv


SERVICE: dict[str, Any] = {
    "name": "flowmesh",
    "description": "FlowMesh gRPC server: streams, queues and KV (SQLite store); HTTP API and "
    f"WebSocket on port {DEFAULT_HTTP_PORT} (${HTTP_PORT_ENV})",
    "default_port": 50051,
    "argv": _argv,
    "scheme": "grpc",
}
