"""How ``mimeia up`` starts the mesh receiver, pointed at the FlowMesh it runs."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from common_mesh.protocol import DEFAULT_PORT
from mimeia import Address, ServiceSpec

__all__ = ["SERVICE"]


def _argv(addresses: Mapping[str, Address], state_dir: str) -> list[str]:
    me = addresses["mesh"]
    flowmesh = addresses.get("flowmesh", Address("127.0.0.1", 50051))
    return [sys.executable, "-m", "common_mesh.cli", "serve", "--host", me.host,
            "--port", str(me.port), "--flowmesh", str(flowmesh)]  # fmt: skip


SERVICE = ServiceSpec(
    name="mesh",
    description="mesh receiver: compressed model batches into FlowMesh streams",
    default_port=DEFAULT_PORT,
    argv=_argv,
    after=("flowmesh",),
)
