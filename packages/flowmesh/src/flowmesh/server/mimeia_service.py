"""How `mimeia up` starts FlowMesh: on the SQLite store under the state directory.

A plain dict (entry point group ``mimeia.services``), so FlowMesh never imports `mimeia`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["flowmesh"]
    db = Path(state_dir).resolve() / "flowmesh" / "flowmesh.db"
    return [
        sys.executable, "-m", "flowmesh", "serve",
        "--host", me.host, "--port", str(me.port), "--store", f"sqlite:///{db}",
    ]  # fmt: skip


SERVICE: dict[str, Any] = {
    "name": "flowmesh",
    "description": "FlowMesh gRPC server: streams, queues and KV (SQLite store)",
    "default_port": 50051,
    "argv": _argv,
    "scheme": "grpc",
}
