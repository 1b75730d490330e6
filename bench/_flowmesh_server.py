"""What the FlowMesh benchmarks share: a server on a free port and a Redis prefix sweep."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis

from mimeia.testing import free_port, run_server


def cleanup(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (the benchmark's own, random one)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.unlink(*keys[i : i + 500])
    finally:
        client.close()


@contextlib.contextmanager
def flowmesh_server(store_url: str) -> Iterator[str]:
    """``flowmesh serve`` on ``store_url`` for the block; yields its endpoint."""
    port = free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--port", str(port), "--store", store_url,
            "--log-level", "warning"]  # fmt: skip
    with run_server(argv):
        yield f"127.0.0.1:{port}"
