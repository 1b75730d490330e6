"""symphony_ai repositories vs the same redis-py commands; run_sync vs run_coroutine_threadsafe.

One run measures, on the real Redis (REDIS_URL or 127.0.0.1:6379), each
repository operation and the exact commands it stands for issued directly with
redis-py on the same client, interleaved op by op so load spikes hit both alike; it
also counts socket writes (round trips) per operation. Then it measures a
thread calling a coroutine on a running loop through ``run_sync`` against
``asyncio.run_coroutine_threadsafe(...).result()``.

    uv run python bench/symphony_redis.py            # quick (default)
    uv run python bench/symphony_redis.py --full     # more samples
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import percentile, ratio

from mimeiapify.symphony_ai import run_sync
from mimeiapify.symphony_ai.redis import (
    KeyFactory,
    RedisClient,
    RedisSharedState,
    RedisUser,
    atomic,
)

TARGET = 1.3


class CountingConnection(Connection):
    """Counts socket writes: one per command, one per pipeline (= round trips)."""

    writes = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


Op = Callable[[int], Awaitable[Any]]


async def timed(op: Op, i: int) -> float:
    started = time.perf_counter()
    await op(i)
    return time.perf_counter() - started


async def compare(name: str, ours: Op, anchor: Op, pairs: int) -> float:
    for i in range(50):  # warm up (script load, pools)
        await ours(i)
        await anchor(i)
    ours_all: list[float] = []
    anchor_all: list[float] = []
    # interleave op by op (order flipped every pair) so load spikes from the other
    # tenants of this machine hit both sides alike
    for i in range(pairs):
        if i % 2:
            ours_all.append(await timed(ours, i))
            anchor_all.append(await timed(anchor, i))
        else:
            anchor_all.append(await timed(anchor, i))
            ours_all.append(await timed(ours, i))
    CountingConnection.writes = 0
    await ours(0)
    trips_ours = CountingConnection.writes
    CountingConnection.writes = 0
    await anchor(0)
    trips_anchor = CountingConnection.writes
    # medians are robust to the other tenants of this shared machine
    ours_p50 = statistics.median(ours_all) * 1e6
    anchor_p50 = statistics.median(anchor_all) * 1e6
    value = ours_p50 / anchor_p50
    print(
        f"{name:<22} ours p50={ours_p50:7.1f}us p99={percentile(ours_all, 99) * 1e6:7.1f}us  "
        f"redis-py p50={anchor_p50:7.1f}us p99={percentile(anchor_all, 99) * 1e6:7.1f}us  "
        f"overhead={value:.3f}  round-trips ours={trips_ours} redis-py={trips_anchor}",
        flush=True,
    )
    return value


async def repository_bench(url: str, pairs: int) -> dict[str, float]:
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    KeyFactory.set_namespace(prefix)
    RedisClient.configure(url)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=8, decode_responses=True, connection_class=CountingConnection
    )
    client = Redis(connection_pool=pool)
    RedisClient.install(client)
    user = RedisUser(tenant="bench", user_id="u1", ttl_default=3600)
    state = RedisSharedState(tenant="bench", user_id="u1")
    user_key = user.key()
    state_key = state.key("conversation")
    profile = {"name": "Alice", "score": 100, "active": True, "plan": "pro", "city": "Bogota"}
    raw_profile: dict[Any, Any] = {
        "name": "Alice",
        "score": "100",
        "active": "1",
        "plan": "pro",
        "city": "Bogota",
    }
    await user.upsert(profile)
    await state.set("conversation", {"step": 1, "context": "greeting"})
    results: dict[str, float] = {}

    async def raw_upsert(_: int) -> None:
        pipe = client.pipeline(transaction=True)
        pipe.hset(user_key, mapping=raw_profile)
        pipe.expire(user_key, 3600)
        await pipe.execute()

    async def raw_set_field(i: int) -> None:
        pipe = client.pipeline(transaction=True)
        pipe.hset(state_key, "step", str(i))
        pipe.expire(state_key, 24 * 3600)
        await pipe.execute()

    try:
        results["get"] = await compare(
            "RedisUser.get", lambda _: user.get(), lambda _: client.hgetall(user_key), pairs
        )
        results["upsert"] = await compare(
            "RedisUser.upsert+TTL", lambda _: user.upsert(profile), raw_upsert, pairs
        )
        results["set_field"] = await compare(
            "SharedState.set_field",
            lambda i: state.set_field("conversation", "step", i),
            raw_set_field,
            pairs,
        )
        await compare(
            "SharedState.get_field",
            lambda _: state.get_field("conversation", "step"),
            lambda _: client.hget(state_key, "step"),
            pairs,
        )
        await compare(
            "RedisUser.increment",
            lambda _: user.increment_field("visits"),
            lambda _: client.hincrby(user_key, "raw_visits", 1),
            pairs,
        )
    finally:
        await atomic.delete_pattern(client, f"{prefix}*")
        await client.aclose()
        RedisClient.reset()
        KeyFactory.set_namespace("")
    return results


def bridge_bench(samples: int) -> tuple[float, float]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def noop() -> int:
        return 1

    def measure(call: Callable[[], Any]) -> list[float]:
        for _ in range(100):
            call()
        out = []
        for _ in range(samples):
            started = time.perf_counter()
            call()
            out.append(time.perf_counter() - started)
        return out

    ours: list[float] = []
    anchor: list[float] = []
    try:
        for _ in range(4):
            anchor += measure(lambda: asyncio.run_coroutine_threadsafe(noop(), loop).result(5))
            ours += measure(lambda: run_sync(noop(), loop=loop, timeout=5))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    o50, o99 = percentile(ours, 50) * 1e6, percentile(ours, 99) * 1e6
    a50, a99 = percentile(anchor, 50) * 1e6, percentile(anchor, 99) * 1e6
    print(
        f"{'sync bridge run_sync':<22} ours p50={o50:7.1f}us p99={o99:7.1f}us  "
        f"run_coroutine_threadsafe p50={a50:7.1f}us p99={a99:7.1f}us  "
        f"overhead(p50)={o50 / a50:.3f}",
        flush=True,
    )
    return o50, a50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="10x more samples")
    args = parser.parse_args()
    scale = 10 if args.full else 1
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    print(f"symphony_redis bench against {url.split('@')[-1]} ({'full' if args.full else 'quick'})")
    results = asyncio.run(repository_bench(url, pairs=3000 * scale))
    bridge_bench(samples=500 * scale)
    worst = max(results, key=lambda name: results[name])
    print(f"targets: get/upsert/set_field overhead <= {TARGET} each: "
          + ", ".join(f"{k}={v:.3f}" for k, v in results.items()))  # fmt: skip
    ratio(f"repository-overhead-worst({worst})", results[worst], 1.0, higher_is_better=False,
          target=f"<= {TARGET}")  # fmt: skip


if __name__ == "__main__":
    main()
