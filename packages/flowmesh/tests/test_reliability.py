"""Crashes: consumers that die mid-job, restarts, several servers sharing one Redis,
a Redis outage seen without a retry budget. (A server or Redis killed under load:
test_faults.)"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from flowmesh import Event, FlowMesh, FlowMeshConnectionError, RetryPolicy
from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T = "acme"


CRASHING_CONSUMER = textwrap.dedent("""
    import asyncio, os, sys
    from flowmesh import FlowMesh

    async def main():
        async with FlowMesh(sys.argv[1]) as c:
            job = await c.queue.reserve("acme", sys.argv[2], "q", visibility_timeout=0.3,
                                        long_poll_timeout=5)
            print("got", job.id, job.attempts, flush=True)
            await asyncio.sleep(3600)  # "working" until killed

    asyncio.run(main())
""")


async def test_crashing_consumers_send_a_job_to_the_dlq_after_max_attempts(
    client: FlowMesh, server: str, ns: str
):
    await client.queue.set_retry_policy(T, ns, "q", RetryPolicy(max_attempts=3))
    job_id, _ = await client.queue.enqueue(T, ns, "q", b"poison")
    deliveries = []
    for _ in range(3):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CRASHING_CONSUMER, server, ns, stdout=subprocess.PIPE
        )
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        proc.kill()  # the consumer dies mid-job
        await proc.wait()
        deliveries.append((line[1], int(line[2])))
        await asyncio.sleep(0.4)  # past the visibility timeout
    assert deliveries == [(job_id, 1), (job_id, 2), (job_id, 3)]
    assert await client.queue.reserve(T, ns, "q") is None
    [dead] = await client.queue.list_dlq_jobs(T, ns, "q")
    assert (dead.id, dead.attempts, dead.payload) == (job_id, 3, b"poison")
    assert dead.last_error == "visibility timeout expired"
    stats = await client.queue.get_stats(T, ns, "q")
    assert (stats.dlq_jobs, stats.failed_jobs, stats.pending_jobs, stats.in_flight_jobs) == (
        1, 1, 0, 0,
    )  # fmt: skip


async def test_subscription_resumes_after_a_server_restart(
    tmp_path: Path, serve_cmd: Callable[..., list[str]]
):
    store = f"sqlite:///{tmp_path}/fm.db"
    port = free_port()
    got: list[bytes] = []
    c = FlowMesh(f"127.0.0.1:{port}")
    try:
        with run_server(serve_cmd(port, store)):
            await c.connect()
            await c.stream.write(T, "ns", "s", [Event(payload=b"before")])

            async def follow() -> None:
                async for msg in c.stream.subscribe(T, "ns", "s", "g", start_offset=0):
                    got.append(msg.payload)
                    if msg.payload == b"after":
                        return

            task = asyncio.create_task(follow())
            while not got:
                await asyncio.sleep(0.05)
        # The server is gone; the subscriber re-dials until it is back.
        await asyncio.sleep(0.5)
        with run_server(serve_cmd(port, store)):
            await c.stream.write(T, "ns", "s", [Event(payload=b"after")])
            await asyncio.wait_for(task, 20)
    finally:
        await c.close()
    assert got == [b"before", b"after"]


@pytest.fixture
def two_redis_servers(redis_url: str, redis_prefix: str, serve_cmd: Callable[..., list[str]]):  # type: ignore[no-untyped-def]
    store = f"{redis_url}?prefix={redis_prefix}shared:"
    ports = free_port(), free_port()
    extra = ("--recheck-interval", "60")  # so only the pub/sub relay can wake the other server
    with (
        run_server(serve_cmd(ports[0], store, *extra)),
        run_server(serve_cmd(ports[1], store, *extra)),
    ):
        yield [f"127.0.0.1:{p}" for p in ports]


async def test_servers_sharing_redis_see_each_others_writes(two_redis_servers: list[str]):
    a_end, b_end = two_redis_servers
    async with FlowMesh(a_end) as a, FlowMesh(b_end) as b:
        ns = "shared"
        # A subscriber on A is pushed what B writes.
        seen = asyncio.Event()

        async def follow() -> None:
            async for msg in a.stream.subscribe(T, ns, "s", "g", start_offset=-2):
                if msg.payload == b"from-b":
                    seen.set()
                    return

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.3)
        await b.stream.write(T, ns, "s", [Event(payload=b"from-b")])
        await asyncio.wait_for(seen.wait(), 15)
        await task

        # A long poll on A wakes for an enqueue on B.
        waiter = asyncio.create_task(a.queue.reserve(T, ns, "q", long_poll_timeout=15))
        await asyncio.sleep(0.3)
        await b.queue.enqueue(T, ns, "q", b"job")
        job = await asyncio.wait_for(waiter, 14)
        assert job is not None and job.payload == b"job"
        await b.queue.ack(T, ns, "q", job.id)  # acked through the other server

        # Competing workers on both servers get every job exactly once.
        for i in range(100):
            await (a if i % 2 else b).queue.enqueue(T, ns, "work", b"%d" % i)
        seen_jobs: list[bytes] = []

        async def drain(c: FlowMesh) -> None:
            while jobs := await c.queue.receive(T, ns, "work", max_jobs=3):
                for j in jobs:
                    seen_jobs.append(j.payload)
                    await c.queue.ack(T, ns, "work", j.id)

        await asyncio.gather(drain(a), drain(b), drain(a), drain(b))
        assert sorted(seen_jobs) == sorted(b"%d" % i for i in range(100))
        stats = await a.queue.get_stats(T, ns, "work")
        assert stats.completed_jobs == 100
        with contextlib.suppress(asyncio.CancelledError):
            task.cancel()


@contextlib.contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of our own, so the test can kill it without touching the shared one."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        yield proc
    finally:
        proc.kill()
        proc.wait()


async def test_a_redis_outage_is_unavailable_then_recovers(serve_cmd: Callable[..., list[str]]):
    redis_port, port = free_port(), free_port()
    with private_redis(redis_port) as first:
        store = f"redis://127.0.0.1:{redis_port}/0"
        with run_server(serve_cmd(port, store)):
            # No retry budget: the outage shows as an error at once (test_faults
            # rides through one with the default budget).
            async with FlowMesh(f"127.0.0.1:{port}", timeout=5, retry_budget=0) as c:
                await c.kv.set(T, "ns", "kv", "k", b"before")
                assert await c.kv.get(T, "ns", "kv", "k") == b"before"  # connections open
                await c.queue.enqueue(T, "ns", "q", b"job")
                first.kill()
                first.wait()
                assert not await c.readiness_check()
                assert await c.health_check()  # the process itself is fine
                with pytest.raises(FlowMeshConnectionError, match="store unavailable"):
                    await c.kv.set(T, "ns", "kv", "k", b"during")
                with pytest.raises(FlowMeshConnectionError, match="store unavailable"):
                    await c.kv.get(T, "ns", "kv", "k")
                with pytest.raises(FlowMeshConnectionError, match="store unavailable"):
                    await c.queue.enqueue(T, "ns", "q", b"job")
                with private_redis(redis_port):  # back, empty (no persistence, no scripts)
                    await c.kv.set(T, "ns", "kv", "k", b"after")
                    assert await c.kv.get(T, "ns", "kv", "k") == b"after"
                    await c.queue.enqueue(T, "ns", "q", b"job after")
                    job = await c.queue.reserve(T, "ns", "q")
                    assert job is not None and job.payload == b"job after"
                    assert await c.readiness_check()
