"""Real servers for tests: a FlowMesh on a fresh SQLite file and a mesh receiver.

They run as processes (``python -m flowmesh serve``, ``python -m common_mesh.cli serve``),
so this module imports neither member; both must be installed with their server extras.

with run_flowmesh(tmp_path) as endpoint, run_receiver(endpoint) as url:
    with MeshEngine(base_url=url) as engine: ...
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mimeia.ports import free_port
from mimeia.testing.servers import run_server

__all__ = ["run_flowmesh", "run_receiver"]


@contextmanager
def run_flowmesh(data_dir: Path) -> Iterator[str]:
    """``flowmesh serve`` on ``data_dir/flowmesh.db``; yields its ``host:port``."""
    port = free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--store", f"sqlite:///{data_dir / 'flowmesh.db'}"]  # fmt: skip
    with run_server(argv):
        yield f"127.0.0.1:{port}"


@contextmanager
def run_receiver(
    flowmesh_endpoint: str,
    env: Mapping[str, str] | None = None,
    *extra_args: str,
    port: int | None = None,
) -> Iterator[str]:
    """``common-mesh serve`` in front of ``flowmesh_endpoint``; yields its base URL."""
    port = port or free_port()
    argv = ["python", "-m", "common_mesh.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--flowmesh", flowmesh_endpoint, *extra_args]  # fmt: skip
    with run_server(argv, env=env) as server:
        url = f"http://127.0.0.1:{port}"
        if server.ready_line != f"listening on {url}":
            raise RuntimeError(f"receiver announced {server.ready_line!r}, expected {url}")
        yield url
