"""Listings a page at a time (streams, queues, KV stores, dead-lettered jobs) on
both stores: every item once, in order; page tokens are checked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from flowmesh import FlowMesh
from flowmesh.types import RetryPolicy

T = "acme"


async def test_120_streams_are_walked_by_pages_of_50_each_once_in_order(client: FlowMesh, ns: str):
    names = [f"s{i:03d}" for i in range(120)]
    await asyncio.gather(*(client.streams.configure(T, ns, n, partitions=2) for n in names))
    await client.streams.configure(T, f"{ns}-other", "s000")  # another namespace: not listed

    seen: list[str] = []
    sizes: list[int] = []
    token = ""
    while True:
        page = await client.streams.list_page(T, ns, page_size=50, page_token=token)
        sizes.append(len(page.streams))
        seen.extend(s.name for s in page.streams)
        assert all(s.namespace == ns and s.partitions == 2 for s in page.streams)
        if not page.next_page_token:
            break
        token = page.next_page_token
    assert sizes == [50, 50, 20]
    assert seen == names
    # list() walks the pages itself; page_size 0 (an older client) gets all at once
    assert [s.name for s in await client.streams.list(T, ns, page_size=7)] == names
    assert [s.name for s in await client.streams.list(T, ns, page_size=0)] == names


async def test_queues_and_kv_stores_come_in_pages_too(client: FlowMesh, ns: str):
    for i in range(5):
        await client.queue.enqueue(T, ns, f"q{i}", b"x")
        await client.kv.set(T, ns, f"kv{i}", "k", b"v")
    first = await client.queues.list_page(T, ns, page_size=3)
    assert [q.name for q in first.queues] == ["q0", "q1", "q2"]
    assert all(q.stats.pending_jobs == 1 for q in first.queues)
    rest = await client.queues.list_page(T, ns, page_size=3, page_token=first.next_page_token)
    assert ([q.name for q in rest.queues], rest.next_page_token) == (["q3", "q4"], "")
    stores = await client.kv.list_stores_page(T, ns, page_size=5)
    assert ([s.name for s in stores.stores], stores.next_page_token) == (
        [f"kv{i}" for i in range(5)], "",
    )  # fmt: skip
    assert [s.keys for s in await client.kv.list_stores(T, ns, page_size=2)] == [1] * 5


async def test_bad_page_tokens_and_sizes_are_refused_naming_the_field(
    client: FlowMesh, ns: str, refused: Callable[[str, str], AbstractContextManager[Any]]
):
    await client.queue.enqueue(T, ns, "q", b"x")
    with refused("stream.list", "page_token: is not a page token from this listing"):
        await client.streams.list_page(T, ns, page_token="not a token!")
    with refused("queue.list", "page_size: must be between 0 and 1000, got 1001"):
        await client.queues.list_page(T, ns, page_size=1001)
    with refused("kv.list_stores", "page_size: must be between 0 and 1000, got -1"):
        await client.kv.list_stores_page(T, ns, page_size=-1)
    with refused("queue.list_dlq_jobs", "page_token: is not a page token from this listing"):
        await client.queue.list_dlq_jobs_page(T, ns, "q", page_token="eHl6")
    await client.queue.enqueue(T, ns, "q2", b"x")
    listing_token = (await client.queues.list_page(T, ns, page_size=1)).next_page_token
    assert listing_token  # a resource listing's token is no DLQ position
    with refused("queue.list_dlq_jobs", "page_token: is not a page token from this listing"):
        await client.queue.list_dlq_jobs_page(T, ns, "q", page_token=listing_token)


async def test_150_dead_jobs_are_walked_by_pages_of_50(client: FlowMesh, ns: str):
    await client.queue.set_retry_policy(T, ns, "q", RetryPolicy(max_attempts=1))
    await asyncio.gather(*(client.queue.enqueue(T, ns, "q", str(i).encode()) for i in range(150)))
    while jobs := await client.queue.receive(T, ns, "q", max_jobs=100):
        dead = await asyncio.gather(*(client.queue.nack(T, ns, "q", j.id) for j in jobs))
        assert all(dead)
    everything = [j.id for j in await client.queue.list_dlq_jobs(T, ns, "q", limit=1000)]
    assert len(everything) == 150

    seen: list[str] = []
    sizes: list[int] = []
    token = ""
    while True:
        page = await client.queue.list_dlq_jobs_page(T, ns, "q", page_size=50, page_token=token)
        sizes.append(len(page.jobs))
        seen.extend(j.id for j in page.jobs)
        if not page.next_page_token:
            break
        token = page.next_page_token
    assert sizes == [50, 50, 50]
    assert seen == everything  # DLQ order, each once
    # without a token the old call answers as before: the first max_jobs
    assert [j.id for j in await client.queue.list_dlq_jobs(T, ns, "q", limit=30)] == seen[:30]
