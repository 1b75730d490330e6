"""The console's FlowMesh reads against a real FlowMesh server (SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowmesh import FlowMesh
from flowmesh.types import Event
from mimeia.testing import free_port, run_server
from mimeia_console.clients.flowmesh_reads import FlowMeshReads

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flowmesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = f"sqlite:///{tmp_path_factory.mktemp('fm')}/flowmesh.db"
    port = free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--port", str(port), "--store", store]
    with run_server(argv):
        yield f"127.0.0.1:{port}"


async def test_a_stream_page_lists_every_group_the_server_knows(flowmesh: str) -> None:
    async with FlowMesh(endpoint=flowmesh, timeout=5) as client:
        await client.stream.configure("acme", "ops", "orders", partitions=2)
        await client.stream.write("acme", "ops", "orders", [Event(payload=b"x")] * 3, partition=0)
        await client.stream.commit_offset("acme", "ops", "orders", "billing", 0, 0)
        await client.stream.commit_offset("acme", "ops", "orders", "audit", 0, 2)
    # "billing" is not configured: the server's list finds it anyway
    reads = FlowMeshReads(flowmesh, None, 5.0, [], [], [], groups=["audit"])
    try:
        info = await reads.stream_info("acme", "ops", "orders")
    finally:
        await reads.close()
    assert [(g.group, g.partition, g.committed, g.latest, g.lag) for g in info.groups] == [
        ("audit", 0, 2, 2, 0), ("billing", 0, 0, 2, 2),
    ]  # fmt: skip
    assert info.lag == 2
