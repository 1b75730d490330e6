"""How ``mimeia up`` starts the mesh receiver, pointed at the FlowMesh it runs.

A plain dict (entry point group ``mimeia.services``), so this never imports `mimeia`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from common_mesh.protocol import DEFAULT_PORT

__all__ = ["SERVICE"]


def _argv(addresses: Mapping[str, Any], state_dir: str) -> list[str]:
    me = addresses["mesh"]
    flowmesh = str(addresses.get("flowmesh", "127.0.0.1:50051"))
    return [sys.executable, "-m", "common_mesh.cli", "serve", "--host", me.host,
            "--port", str(me.port), "--flowmesh", flowmesh]  # fmt: skip


SERVICE: dict[str, Any] = {
    "name": "mesh",
    "description": "mesh receiver: compressed model batches into FlowMesh streams",
    "default_port": DEFAULT_PORT,
    "argv": _argv,
    "after": ["flowmesh"],
}
