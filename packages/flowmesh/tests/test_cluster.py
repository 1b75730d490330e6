"""The Redis store on a Redis Cluster (``redis+cluster://``): a resource's keys in one
slot, resources spread over the primaries, and a primary failover during writes
that loses nothing acknowledged and stores nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from flowmesh import Event, FlowMesh, FlowMeshError
from flowmesh.server.store.redis_cluster import ClusterRouter
from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# redis_cluster: conftest.LocalCluster (conftest is not importable under importlib mode)
T = "acme"


async def test_the_store_runs_on_a_cluster_one_slot_per_resource(
    redis_cluster: Any, serve_cmd: Callable[..., list[str]]
) -> None:
    port = free_port()
    with run_server(serve_cmd(port, f"{redis_cluster.url}?prefix=t:")):
        async with FlowMesh(f"127.0.0.1:{port}") as c:
            got = c.stream.subscribe(T, "ns", "s0", "g", start_offset=-2)
            first = asyncio.ensure_future(anext(got))
            await asyncio.sleep(0.3)
            for n in range(8):  # eight of each, so they land on several primaries
                assert await c.stream.write(T, "ns", f"s{n}", [Event(payload=b"e%d" % n)]) == [0]
                await c.queue.enqueue(T, "ns", f"q{n}", b"j%d" % n)
                await c.kv.set(T, "ns", f"kv{n}", "k", b"v%d" % n, ttl=timedelta(minutes=5))
            # A write on one primary wakes a subscriber: pub/sub spans the cluster.
            assert (await asyncio.wait_for(first, 10)).payload == b"e0"
            await got.aclose()
            for n in range(8):
                [msg] = await c.stream.read(T, "ns", f"s{n}")
                assert msg.payload == b"e%d" % n
                job = await c.queue.reserve(T, "ns", f"q{n}")
                assert job is not None and job.payload == b"j%d" % n
                await c.queue.ack(T, "ns", f"q{n}", job.id)
                assert await c.kv.get(T, "ns", f"kv{n}", "k") == b"v%d" % n
                assert await c.kv.list_keys(T, "ns", f"kv{n}") == ["k"]
            await c.stream.commit_offset(T, "ns", "s1", "g", 0, 0)
            state = await c.stream.get_consumer_group_state(T, "ns", "s1", "g")
            assert (state.committed_offset, state.lag) == (0, 0)
            assert (await c.queue.get_stats(T, "ns", "q1")).completed_jobs == 1
            assert await c.kv.delete(T, "ns", "kv1", "k")

    tags_by_node: dict[int, set[str]] = {}
    for port in redis_cluster.ports:
        with redis_cluster.client(port) as r:
            if r.info("replication")["role"] != "master":
                continue
            for key in r.scan_iter(match="t:*"):
                text = key.decode()
                assert text.startswith("t:{fm:") and "}:" in text, text  # every key hash-tagged
                tags_by_node.setdefault(port, set()).add(text[2 : text.index("}") + 1])
    # The same tag is never on two primaries: a resource lives in one slot.
    nodes = list(tags_by_node.values())
    assert all(a.isdisjoint(b) for i, a in enumerate(nodes) for b in nodes[i + 1 :])
    assert len(tags_by_node) >= 2, "resources should spread over the primaries"

    # A stale slot map (every slot on one primary) is corrected by the MOVED replies.
    router = ClusterRouter([("127.0.0.1", redis_cluster.ports[0])], replicas=1)
    try:
        await router.refresh()
        wrong = ("127.0.0.1", min(tags_by_node))
        router._ranges, router._starts = [(0, 16383, wrong)], [0]
        for n in range(8):
            key = f"t:{{fm:kv:acme/ns/kv{n}}}:v:k"
            assert await router.execute(key, "GET", key) == (b"v%d" % n if n != 1 else None)
            assert await router.execute(key, "SET", key + "2", b"x", write=True) == b"OK"
        assert router._ranges != [(0, 16383, wrong)]  # the map was reloaded
    finally:
        router.close()


async def test_a_primary_failover_during_writes_loses_nothing_acknowledged(
    redis_cluster: Any, serve_cmd: Callable[..., list[str]]
) -> None:
    port = free_port()
    endpoint = f"127.0.0.1:{port}"
    victim = redis_cluster.primary_of("f:{fm:s:acme/fo/s}:cfg")
    written: list[tuple[int, bytes]] = []
    enqueued: dict[str, bytes] = {}
    errors: list[str] = []
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        async with FlowMesh(endpoint) as c:
            i = 0
            while not stop.is_set():
                batch = [Event(payload=b"w%d-%d-%d" % (n, i, k)) for k in range(5)]
                offsets = await c.stream.write(T, "fo", "s", batch)
                written.extend(zip(offsets, (e.payload for e in batch), strict=True))
                i += 1

    async def producer(n: int) -> None:
        async with FlowMesh(endpoint) as c:
            i = 0
            while not stop.is_set():
                payload = b"j%d-%d" % (n, i)
                job_id, _ = await c.queue.enqueue(T, "fo", "q", payload)
                enqueued[job_id] = payload
                i += 1

    async def guarded(work: Callable[[], object]) -> None:
        try:
            await work()  # type: ignore[misc]
        except FlowMeshError as exc:
            errors.append(repr(exc))

    with run_server(serve_cmd(port, f"{redis_cluster.url}?prefix=f:")):
        tasks = [asyncio.create_task(guarded(lambda n=n: writer(n))) for n in range(3)]
        tasks += [asyncio.create_task(guarded(lambda n=n: producer(n))) for n in range(2)]
        await asyncio.sleep(1.5)
        before = len(written)
        redis_cluster.kill(victim)  # kill -9 the primary of the stream's slot
        began = time.monotonic()
        key = "f:{fm:s:acme/fo/s}:cfg"
        await asyncio.to_thread(_wait, lambda: redis_cluster.primary_of(key) != victim)
        promoted = time.monotonic() - began
        await asyncio.to_thread(redis_cluster.start, victim)  # it returns as a replica
        await asyncio.to_thread(_wait, redis_cluster.healthy)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        assert not errors, errors
        assert len(written) > before, "no write went through after the failover"

        async with FlowMesh(endpoint) as c:
            latest = await c.stream.get_latest_offset(T, "fo", "s")
            stored: list[bytes] = []
            while len(stored) <= latest:
                page = await c.stream.read(T, "fo", "s", offset=len(stored), max_messages=1000)
                stored.extend(m.payload for m in page)
            lost = [w for w in written if w[0] >= len(stored) or stored[w[0]] != w[1]]
            assert not lost, f"{len(lost)} acknowledged writes lost"
            assert len(stored) == len(set(stored)), "an event was stored twice"
            delivered: dict[str, bytes] = {}
            while jobs := await c.queue.receive(T, "fo", "q", max_jobs=100):
                delivered.update((j.id, j.payload) for j in jobs)
            assert enqueued.items() <= delivered.items(), "an acknowledged job was lost"
            assert len(delivered) == len(set(delivered.values())), "a job was enqueued twice"
    print(
        f"\ncluster failover: primary replaced in {promoted:.1f}s; events {len(stored)} "
        f"(confirmed {len(written)}), jobs {len(delivered)} (confirmed {len(enqueued)}); "
        "lost 0, stored twice 0, client errors 0"
    )


def _wait(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the cluster did not settle")
        time.sleep(0.1)
