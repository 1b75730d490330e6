"""Riding through faults: the server killed with -9 twice (SQLite store), and Redis
killed and restarted twice under the Redis store, while 4 writers, 4 producers,
4 workers and a subscriber keep going. Nothing the server acknowledged is lost,
nothing is stored twice, no job comes back after its ack, the subscriber sees
every offset once, and no client sees an error (the outages are shorter than
the SDK's retry budget)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from flowmesh import Event, FlowMesh, FlowMeshError
from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T = "acme"
NS = "faults"
WRITERS = PRODUCERS = WORKERS = 4
VISIBILITY = timedelta(seconds=5)


@dataclass
class Ledger:
    """What the clients were told, and what they saw."""

    written: list[tuple[int, bytes]] = field(default_factory=list)  # confirmed (offset, payload)
    enqueued: dict[str, bytes] = field(default_factory=dict)  # confirmed job id -> payload
    delivered: dict[str, bytes] = field(default_factory=dict)  # job id -> payload
    deliveries: int = 0
    acked_at: dict[str, float] = field(default_factory=dict)  # job id -> when its ack returned
    after_ack: int = 0  # deliveries of a job whose ack had returned
    seen: list[int] = field(default_factory=list)  # offsets the subscriber received
    errors: list[str] = field(default_factory=list)
    slowest_call: float = 0.0  # longest a client waited on one call (its outage)

    def timed(self, began: float) -> None:
        self.slowest_call = max(self.slowest_call, time.monotonic() - began)


async def _load(
    endpoint: str, ledger: Ledger, stop: asyncio.Event
) -> tuple[list[asyncio.Task[None]], asyncio.Task[None]]:
    """Start the writers, producers and workers (they end after ``stop``, the workers
    once every confirmed job is acked) and the subscriber (it runs until cancelled)."""

    async def guarded(body: Callable[[FlowMesh], Awaitable[None]]) -> None:
        try:
            async with FlowMesh(endpoint, retry_budget=30) as c:
                await body(c)
        except FlowMeshError as exc:
            ledger.errors.append(repr(exc))

    def writer(n: int) -> Callable[[FlowMesh], Awaitable[None]]:
        async def run(c: FlowMesh) -> None:
            i = 0
            while not stop.is_set():
                batch = [Event(payload=b"w%d-%d-%d" % (n, i, k)) for k in range(5)]
                began = time.monotonic()
                offsets = await c.stream.write(T, NS, "s", batch)
                ledger.timed(began)
                ledger.written.extend(zip(offsets, (e.payload for e in batch), strict=True))
                i += 1
                await asyncio.sleep(0.01)

        return run

    def producer(n: int) -> Callable[[FlowMesh], Awaitable[None]]:
        async def run(c: FlowMesh) -> None:
            i = 0
            while not stop.is_set():
                payload = b"j%d-%d" % (n, i)
                began = time.monotonic()
                job_id, _ = await c.queue.enqueue(T, NS, "q", payload)
                ledger.timed(began)
                ledger.enqueued[job_id] = payload
                i += 1
                await asyncio.sleep(0.01)

        return run

    async def worker(c: FlowMesh) -> None:
        while not stop.is_set() or len(ledger.acked_at) < len(ledger.enqueued):
            jobs = await c.queue.receive(T, NS, "q", max_jobs=5, visibility_timeout=VISIBILITY,
                                         long_poll_timeout=timedelta(seconds=1))  # fmt: skip
            for job in jobs:  # delivered now, whatever the acks below wait for
                ledger.deliveries += 1
                if job.id in ledger.acked_at:
                    ledger.after_ack += 1
                ledger.delivered[job.id] = job.payload
            for job in jobs:
                began = time.monotonic()
                await c.queue.ack(T, NS, "q", job.id)
                ledger.timed(began)
                ledger.acked_at.setdefault(job.id, time.monotonic())

    async def subscriber(c: FlowMesh) -> None:
        async for msg in c.stream.subscribe(T, NS, "s", "audit", start_offset=-1):
            ledger.seen.append(msg.offset)

    bodies = [writer(n) for n in range(WRITERS)] + [producer(n) for n in range(PRODUCERS)]
    bodies += [worker] * WORKERS
    tasks = [asyncio.create_task(guarded(b)) for b in bodies]
    return tasks, asyncio.create_task(guarded(subscriber))


async def _run(endpoint: str, faults: Callable[[], Awaitable[None]]) -> Ledger:
    """Load, then the faults under it, then a drain; checks and returns the ledger."""
    ledger, stop = Ledger(), asyncio.Event()
    tasks, follower = await _load(endpoint, ledger, stop)
    for _ in range(2):
        await asyncio.sleep(1.5)  # load builds up (and, the second time, resumes)
        await faults()
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)

    async with FlowMesh(endpoint) as c:
        latest = await c.stream.get_latest_offset(T, NS, "s")
        for _ in range(300):  # the subscriber catches up
            if len(ledger.seen) > latest or follower.done():
                break
            await asyncio.sleep(0.1)
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        assert not ledger.errors, ledger.errors
        stored: list[bytes] = []
        while len(stored) <= latest:
            page = await c.stream.read(T, NS, "s", offset=len(stored), max_messages=1000)
            stored.extend(m.payload for m in page)
        by_offset = dict(enumerate(stored))
        lost = [w for w in ledger.written if by_offset.get(w[0]) != w[1]]
        assert not lost, f"{len(lost)} acknowledged writes lost"
        twice = len(stored) - len(set(stored))
        assert twice == 0, f"{twice} events stored twice"
        stats = await c.queue.get_stats(T, NS, "q")
    payloads = list(ledger.delivered.values())
    doubled = len(payloads) - len(set(payloads))
    assert doubled == 0, f"{doubled} jobs enqueued twice"
    assert stats.total_jobs == len(ledger.delivered), "a stored job was never delivered"
    assert ledger.enqueued.items() <= ledger.delivered.items(), "a confirmed job went missing"
    assert ledger.after_ack == 0, f"{ledger.after_ack} deliveries after an ack"
    assert ledger.seen == list(range(latest + 1)), "the subscriber saw a gap or a repeat"
    print(
        f"\nevents {len(stored)} (confirmed {len(ledger.written)}), jobs {len(ledger.enqueued)}"
        f" (deliveries {ledger.deliveries}), subscriber {len(ledger.seen)};"
        f" lost 0, stored twice 0, jobs doubled 0, redelivered after ack 0, client errors 0;"
        f" longest call through a fault {ledger.slowest_call:.2f}s"
    )
    return ledger


async def test_two_kill_9s_of_the_server_on_sqlite(
    tmp_path: Path, serve_cmd: Callable[..., list[str]]
) -> None:
    port = free_port()
    argv = serve_cmd(port, f"sqlite:///{tmp_path}/fm.db")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(run_server(argv))

        async def kill_and_restart() -> None:
            nonlocal server
            server.process.send_signal(signal.SIGKILL)  # mid-load, no goodbye
            await asyncio.to_thread(server.process.wait)
            await asyncio.sleep(0.3)
            server = await asyncio.to_thread(stack.enter_context, run_server(argv))

        await _run(f"127.0.0.1:{port}", kill_and_restart)


@contextlib.contextmanager
def durable_redis(port: int, directory: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of our own that fsyncs every write (appendfsync always), so what
    it acknowledged survives a kill -9."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        for _ in range(200):
            try:
                if client.ping():
                    break
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        client.close()
        yield proc
    finally:
        proc.kill()
        proc.wait()


async def test_two_redis_kill_9s_under_the_redis_store(
    tmp_path: Path, serve_cmd: Callable[..., list[str]]
) -> None:
    redis_port, port = free_port(), free_port()
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(durable_redis(redis_port, tmp_path))
        stack.enter_context(run_server(serve_cmd(port, f"redis://127.0.0.1:{redis_port}/0")))
        current = [first]

        async def kill_and_restart() -> None:
            current[0].kill()
            await asyncio.to_thread(current[0].wait)
            await asyncio.sleep(0.3)
            current[0] = await asyncio.to_thread(
                stack.enter_context, durable_redis(redis_port, tmp_path)
            )

        await _run(f"127.0.0.1:{port}", kill_and_restart)
