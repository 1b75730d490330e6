"""FlowMesh queue cost against queue depth: reserve+ack at 100 and 100,000 pending jobs.

One command: ``uv run python bench/flowmesh_queue_depth.py``. For each store
(SQLite in a temp dir; the local Redis under a random key prefix, deleted
afterwards) it fills one queue with 100 jobs and another with 100,000, then
measures on each:

- reserve+ack: one worker reserving one job and acking it, again and again
  (p50 ms per cycle), and 4 workers doing the same (jobs/s);
- get_stats at that depth (p50 ms), and a KV get's p50 while get_stats calls
  run back to back next to it (statistics must not hold up other calls).

Each job taken is replaced by an enqueue (not timed for the single worker), so
the depth holds. Anchor: redis-py on a sorted-set queue (ZPOPMIN, then a ZREM
for the ack, ZADD for the replacement) at the same depths. The cost of one operation must not
grow with the queue. The last line is ``ratio:``, SQLite reserve+ack at
100,000 pending over the same at 100 (lower is better; 1.0 is no growth).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from _flowmesh_server import cleanup, flowmesh_server
from _harness import line, percentile, ratio

from flowmesh import FlowMesh
from flowmesh.proto import flowmesh_pb2 as pb

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DEPTHS = (100, 100_000)
CYCLES = 300
WORKERS = 4
WORKER_SECONDS = 2.0
T = "bench"


async def fill(c: FlowMesh, ns: str, queue: str, jobs: int) -> None:
    """``jobs`` jobs in batches of 100 (EnqueueBatch), a few requests at a time."""
    stub = c._stubs().queue
    path = pb.ResourcePath(tenant=T, namespace=ns, resource_type="queue", name=queue)
    batches = [
        pb.EnqueueBatchRequest(
            resource_path=path,
            jobs=[pb.EnqueueRequest(payload=b"job %d" % i) for i in range(s, min(s + 100, jobs))],
        )
        for s in range(0, jobs, 100)
    ]
    gate = asyncio.Semaphore(4)

    async def send(request: pb.EnqueueBatchRequest) -> None:
        async with gate:
            await stub.EnqueueBatch(request, timeout=60)

    await asyncio.gather(*(send(b) for b in batches))


async def _both(
    first: Callable[[], Awaitable[None]], second: Callable[[], Awaitable[None]]
) -> None:
    await first()
    await second()


async def timed(samples: int, op: Callable[[], Awaitable[object]]) -> list[float]:
    out = []
    for _ in range(samples):
        began = time.perf_counter()
        await op()
        out.append(time.perf_counter() - began)
    return out


async def throughput(cycle: Callable[[], Awaitable[object]]) -> float:
    done = 0
    deadline = time.perf_counter() + WORKER_SECONDS

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await cycle()
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return done / (time.perf_counter() - began)


async def flowmesh_suite(endpoint: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    ns = f"depth{uuid.uuid4().hex[:6]}"
    async with FlowMesh(endpoint, timeout=120) as c:
        await c.kv.set(T, ns, "kv", "k", b"v" * 100)
        for depth in DEPTHS:
            queue = f"q{depth}"
            began = time.perf_counter()
            await fill(c, ns, queue, depth)
            print(f"  filled {label} {queue} in {time.perf_counter() - began:.1f}s", flush=True)

            async def cycle(q: str = queue) -> None:
                job = await c.queue.reserve(T, ns, q, visibility_timeout=60)
                assert job is not None
                await c.queue.ack(T, ns, q, job.id)

            async def replaced(q: str = queue) -> None:  # the depth stays where it is
                await c.queue.enqueue(T, ns, q, b"again")

            samples = []
            for i in range(20 + CYCLES):
                began = time.perf_counter()
                await cycle()
                if i >= 20:
                    samples.append(time.perf_counter() - began)
                await replaced()
            out[f"cycle_{depth}"] = percentile(samples, 50) * 1000
            line(f"flowmesh[{label}] reserve+ack, {depth:,} pending, p50",
                 out[f"cycle_{depth}"], "ms")  # fmt: skip
            out[f"workers_{depth}"] = await throughput(partial(_both, cycle, replaced))
            line(f"flowmesh[{label}] {WORKERS} workers, {depth:,} pending (each job replaced)",
                 out[f"workers_{depth}"], "jobs/s")  # fmt: skip
            stats_ms = await timed(20, partial(c.queue.get_stats, T, ns, queue))
            out[f"stats_{depth}"] = percentile(stats_ms, 50) * 1000
            line(f"flowmesh[{label}] get_stats, {depth:,} jobs, p50", out[f"stats_{depth}"], "ms")

            alone = await timed(200, lambda: c.kv.get(T, ns, "kv", "k"))
            busy = asyncio.Event()

            async def stats_loop(q: str = queue, stop: asyncio.Event = busy) -> None:
                while not stop.is_set():
                    await c.queue.get_stats(T, ns, q)

            loops = [asyncio.create_task(stats_loop()) for _ in range(2)]
            beside = await timed(200, lambda: c.kv.get(T, ns, "kv", "k"))
            busy.set()
            await asyncio.gather(*loops)
            out[f"kv_alone_{depth}"] = percentile(alone, 50) * 1000
            out[f"kv_beside_{depth}"] = percentile(beside, 50) * 1000
            alone_ms = out[f"kv_alone_{depth}"]
            line(f"flowmesh[{label}] kv get p50 beside get_stats, {depth:,}",
                 out[f"kv_beside_{depth}"], f"ms (alone {alone_ms:.3f} ms)")  # fmt: skip
    return out


async def redis_suite() -> dict[str, float]:
    """The anchor: a sorted-set queue in plain redis-py (ZPOPMIN, ZREM for the ack)."""
    out: dict[str, float] = {}
    prefix = f"benchdepth{uuid.uuid4().hex[:8]}:"
    r: Any = aioredis.Redis.from_url(REDIS_URL)
    try:
        for depth in DEPTHS:
            key, inflight = f"{prefix}q{depth}", f"{prefix}f{depth}"
            for s in range(0, depth, 5000):
                await r.zadd(key, {f"job{i}": i for i in range(s, min(s + 5000, depth))})

            numbers = iter(range(depth, 10**9))

            async def cycle(k: str = key, f: str = inflight, n: Iterator[int] = numbers) -> None:
                [(job, _)] = await r.zpopmin(k)
                await r.zrem(f, job)
                await r.zadd(k, {f"job{next(n)}": 0})  # replaced, as ours

            out[f"cycle_{depth}"] = percentile(await timed(CYCLES, cycle), 50) * 1000
            line(f"redis-py zpopmin+zrem, {depth:,} pending, p50", out[f"cycle_{depth}"], "ms")
            out[f"workers_{depth}"] = await throughput(cycle)
            line(f"redis-py {WORKERS} workers, {depth:,} pending", out[f"workers_{depth}"],
                 "jobs/s")  # fmt: skip
    finally:
        await r.aclose()
        cleanup(REDIS_URL, prefix)
    return out


def main() -> int:
    results: dict[str, dict[str, float]] = {"redis-py": asyncio.run(redis_suite())}
    with (
        tempfile.TemporaryDirectory() as tmp,
        flowmesh_server(f"sqlite:///{Path(tmp) / 'depth.db'}") as endpoint,
    ):
        results["sqlite"] = asyncio.run(flowmesh_suite(endpoint, "sqlite"))
    prefix = f"benchfmdepth{uuid.uuid4().hex[:8]}:"
    try:
        with flowmesh_server(f"{REDIS_URL}?prefix={prefix}") as endpoint:
            results["redis"] = asyncio.run(flowmesh_suite(endpoint, "redis"))
    finally:
        cleanup(REDIS_URL, prefix)

    print()
    small, big = DEPTHS
    for name, got in results.items():
        growth = got[f"cycle_{big}"] / got[f"cycle_{small}"]
        print(f"{name:<8} reserve+ack p50 {got[f'cycle_{small}']:.3f} ms at {small:,} pending, "
              f"{got[f'cycle_{big}']:.3f} ms at {big:,} ({growth:.2f}x); {WORKERS} workers "
              f"{got[f'workers_{small}']:,.0f} -> {got[f'workers_{big}']:,.0f} jobs/s")  # fmt: skip
        if name != "redis-py":
            print(f"{name:<8} get_stats p50 {got[f'stats_{big}']:.2f} ms at {big:,} jobs; kv get "
                  f"p50 beside it {got[f'kv_beside_{big}']:.3f} ms (alone "
                  f"{got[f'kv_alone_{big}']:.3f} ms)")  # fmt: skip
    spread = statistics.fmean(results[s][f"cycle_{big}"] / results[s][f"cycle_{small}"]
                              for s in ("sqlite", "redis"))  # fmt: skip
    print(f"mean growth of reserve+ack over both stores: {spread:.2f}x")
    ratio(f"flowmesh sqlite reserve+ack at {big:,} / at {small:,} pending",
          results["sqlite"][f"cycle_{big}"], results["sqlite"][f"cycle_{small}"],
          higher_is_better=False, target="<= 1.5")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
