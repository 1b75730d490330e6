"""Real FlowMesh servers (child processes) on both stores, shared by the tests.

Every test names its own namespace, so tests sharing a server do not meet.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from flowmesh import FlowMesh, FlowMeshInvalidArgumentError
from mimeia.testing import free_port, run_server

STORES = ["sqlite", "redis"]


def make_store_url(kind: str, directory: Path, redis_url: str, redis_prefix: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{directory}/flowmesh.db"
    sep = "&" if "?" in redis_url else "?"
    return f"{redis_url}{sep}prefix={redis_prefix}fm{uuid.uuid4().hex[:6]}:"


def serve_argv(port: int, store_url: str, *extra: str) -> list[str]:
    return ["python", "-m", "flowmesh", "serve", "--port", str(port), "--store", store_url,
            "--log-format", "text", *extra]  # fmt: skip


@pytest.fixture(scope="session", params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def server(
    store_kind: str, tmp_path_factory: pytest.TempPathFactory, redis_url: str, redis_prefix: str
) -> Iterator[str]:
    """Endpoint of a running server on the parametrised store (open, 2 s dedup window).

    Its fallback re-read runs only every 60 s, so a test that sees a message or
    job within a few seconds saw it pushed by the write, without timing it."""
    url = make_store_url(store_kind, tmp_path_factory.mktemp(store_kind), redis_url, redis_prefix)
    port = free_port()
    with run_server(serve_argv(port, url, "--dedup-window", "2", "--recheck-interval", "60")):
        yield f"127.0.0.1:{port}"


@pytest.fixture
async def client(server: str) -> AsyncIterator[FlowMesh]:
    async with FlowMesh(endpoint=server) as c:
        yield c


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses."""
    return f"ns-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def serve_cmd() -> Callable[..., list[str]]:
    """``serve_cmd(port, store_url, *extra)``: argv of ``flowmesh serve`` for run_server."""
    return serve_argv


@pytest.fixture(scope="session")
def refused() -> Callable[[str, str], AbstractContextManager[Any]]:
    """``with refused("stream.write", "events[1].payload: is 1025 bytes"):`` expects the
    server to refuse the call as invalid, the SDK message starting with exactly that."""

    def expect(operation: str, detail: str) -> AbstractContextManager[Any]:
        pattern = "^" + re.escape(f"{operation} failed: {detail}")
        return pytest.raises(FlowMeshInvalidArgumentError, match=pattern)

    return expect


@dataclass
class LocalCluster:
    """A Redis Cluster of our own: 3 primaries, each with one replica, on free ports."""

    directory: Path
    ports: list[int]
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, port: int) -> None:
        home = self.directory / str(port)
        home.mkdir(exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled",
             "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
             "--dir", str(home), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for(lambda: _ping(port), f"redis-server on port {port}")

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait()

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=1)

    def primary_of(self, key: str) -> int:
        """Port of the primary that owns ``key``'s slot (as a live node sees it)."""
        port = next(p for p in self.procs if _ping(p))
        with self.client(port) as c:
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, primary, *_ in c.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(primary[1])
        raise AssertionError(f"no primary for slot {slot}")

    def healthy(self) -> bool:
        """Every live node sees the whole cluster up, every replica in sync."""
        for port in self.procs:
            with self.client(port) as c:
                info = c.execute_command("CLUSTER", "INFO").decode()
                if "cluster_state:ok" not in info:
                    return False
                role = c.info("replication")
                if role["role"] == "slave" and role.get("master_link_status") != "up":
                    return False
        return True

    def close(self) -> None:
        for port in list(self.procs):
            self.kill(port)


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 >= 65536:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _ping(port: int) -> bool:
    try:
        with redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1) as c:
            return bool(c.ping())
    except redis.RedisError:
        return False


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready within {timeout:g}s")
        time.sleep(0.1)


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A local Redis Cluster (3 primaries + 3 replicas, `redis-server --cluster-enabled
    yes` on free ports, joined with `redis-cli --cluster create`), stopped afterwards."""
    cluster = LocalCluster(tmp_path, [_cluster_port() for _ in range(6)])
    try:
        for port in cluster.ports:
            cluster.start(port)
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{p}" for p in cluster.ports), "--cluster-replicas", "1",
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        _wait_for(cluster.healthy, "redis cluster")
        yield cluster
    finally:
        cluster.close()
