"""The console's FlowMesh reads against a real FlowMesh server (SQLite store)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from flowmesh import FlowMesh
from flowmesh.exceptions import FlowMeshError
from flowmesh.server.app import open_store
from flowmesh.server.auth import Authenticator
from flowmesh.server.grpc_api import add_services
from flowmesh.server.metrics import Metrics
from flowmesh.server.ops import Operations, OpsContext
from flowmesh.types import Event
from mimeia.testing import free_port, run_server
from mimeia_console.app import create_app
from mimeia_console.clients.flowmesh_reads import KV_PAGE, FlowMeshReads
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

METRICS_PORT: dict[str, int] = {}


@pytest.fixture(scope="module")
def flowmesh(redis_url: str, redis_prefix: str) -> Iterator[str]:
    """FlowMesh on the Redis store (the 2,500 KV writes below are quick there)."""
    port, metrics = free_port(), free_port()
    argv = ["python", "-m", "flowmesh", "serve", "--port", str(port), "--store", redis_url,
            "--redis-prefix", f"{redis_prefix}console-fm:",
            "--metrics-port", str(metrics)]  # fmt: skip
    with run_server(argv):
        METRICS_PORT[f"127.0.0.1:{port}"] = metrics
        yield f"127.0.0.1:{port}"


@pytest.fixture
async def console(flowmesh: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The console app (loopback sign-in, tenant "acme") over this FlowMesh server."""
    (tmp_path / "internal_api_key").write_text("k3y")
    settings = ConsoleSettings(loopback_key_file=tmp_path / "internal_api_key",
                               flowmesh_url=flowmesh, default_tenant="acme")  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client
    await app.state.console.fm.close()


def list_keys_calls(flowmesh: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{METRICS_PORT[flowmesh]}/metrics").text
    found = re.findall(r'^flowmesh_requests_total\{[^}]*method="kv\.list_keys"[^}]*\} (\S+)$',
                       text, re.M)  # fmt: skip
    return sum(float(v) for v in found)


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


async def test_kv_pages_resume_from_a_cursor_and_show_each_key_once(
    flowmesh: str, console: httpx.AsyncClient
) -> None:
    wanted = [f"user:{i:05d}" for i in range(2500)]
    async with FlowMesh(endpoint=flowmesh, timeout=10) as client:
        for chunk in range(0, len(wanted), 500):
            await asyncio.gather(*(client.kv.set("acme", "ops", "big", k, b"v")
                                   for k in wanted[chunk:chunk + 500]))  # fmt: skip
        await client.kv.set("acme", "ops", "big", "other:1", b"not under the prefix")
        await client.kv.set("acme2", "ops", "big", "user:99999", b"another tenant")

    seen: list[str] = []
    timings: list[float] = []
    calls_before = list_keys_calls(flowmesh)
    url: str | None = "/flowmesh/kv/ops/big?prefix=user%3A"
    while url is not None:
        started = time.perf_counter()
        page = await console.get(url)
        timings.append(time.perf_counter() - started)
        assert page.status_code == 200, page.text
        listed = re.findall(r'<td><a href="\?prefix=[^"]*key=[^"]*">([^<]*)</a>', page.text)
        keys = [unescape(k) for k in listed]
        assert 0 < len(keys) <= KV_PAGE
        seen.extend(keys)
        more = re.search(r'<a rel="next" href="([^"]*)"', page.text)
        url = "/flowmesh/kv/ops/big" + unescape(more.group(1)) if more else None
    assert seen == wanted  # each key once, in order, none of another prefix or tenant
    assert len(timings) == 2500 // KV_PAGE
    # one ListKeys call a page, the last as the first (no re-reading from the start)
    assert list_keys_calls(flowmesh) - calls_before == len(timings)
    print(f"kv pages: first {timings[0] * 1000:.1f} ms, last {timings[-1] * 1000:.1f} ms")


class WithoutListConsumerGroups(grpc.aio.ServerInterceptor):
    """Leaves ListConsumerGroups unregistered, as on a server from before it: gRPC
    itself answers UNIMPLEMENTED; every other RPC reaches the real services."""

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        if details.method.endswith("/ListConsumerGroups"):
            return None
        return await continuation(details)


@pytest.fixture
async def older_flowmesh(tmp_path: Path) -> AsyncIterator[str]:
    """The real FlowMesh services (SQLite store) on a gRPC server without the
    ListConsumerGroups RPC."""
    store = open_store(f"sqlite:///{tmp_path / 'older.db'}")
    await store.open()
    metrics = Metrics()
    ops = Operations.build(OpsContext(store, metrics=metrics))
    auth = Authenticator(store=store)  # no tokens: open, as in development
    await auth.refresh()
    server = grpc.aio.server(interceptors=[WithoutListConsumerGroups()])
    add_services(server, ops, auth, metrics)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)
        await store.close()


async def test_without_list_consumer_groups_the_configured_groups_are_asked(
    older_flowmesh: str,
) -> None:
    async with FlowMesh(endpoint=older_flowmesh, timeout=5) as client:
        await client.stream.configure("acme", "ops", "orders", partitions=2)
        await client.stream.write("acme", "ops", "orders", [Event(payload=b"x")] * 3, partition=0)
        await client.stream.write("acme", "ops", "orders", [Event(payload=b"y")] * 2, partition=1)
        await client.stream.commit_offset("acme", "ops", "orders", "audit", 0, 0)
        await client.stream.commit_offset("acme", "ops", "orders", "audit", 1, 1)
        await client.stream.commit_offset("acme", "ops", "orders", "billing", 0, 2)
        with pytest.raises(FlowMeshError) as refused:
            await client.stream.list_consumer_groups("acme", "ops", "orders")
        assert refused.value.code.name == "UNIMPLEMENTED"
    # "billing" is not configured, and this server cannot list it: only "audit" shows
    reads = FlowMeshReads(older_flowmesh, None, 5.0, [], [], [], groups=["audit", "never"])
    try:
        info = await reads.stream_info("acme", "ops", "orders")
    finally:
        await reads.close()
    assert info.latest == [2, 1]
    assert [(g.group, g.partition, g.committed, g.latest, g.lag) for g in info.groups] == [
        ("audit", 0, 0, 2, 2), ("audit", 1, 1, 1, 0),
    ]  # fmt: skip
    assert info.lag == 2
