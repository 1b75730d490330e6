"""Real FlowMesh servers (child processes) on both stores, shared by the tests.

Every test names its own namespace, so tests sharing a server do not meet.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

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
