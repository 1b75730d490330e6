"""Streams on both stores: offsets, partitions, subscribe, consumer groups, retention."""

from __future__ import annotations

import asyncio

import pytest

from flowmesh import (
    Event,
    FlowMesh,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
)

pytestmark = pytest.mark.integration
T = "acme"


def events(n: int, start: int = 0, **headers: str) -> list[Event]:
    return [Event(payload=b"e%d" % i, headers=dict(headers)) for i in range(start, start + n)]


async def test_offsets_are_dense_and_reads_page(client: FlowMesh, ns: str):
    assert await client.stream.write(T, ns, "s", events(3)) == [0, 1, 2]
    assert await client.stream.write(T, ns, "s", events(2, 3)) == [3, 4]
    got = await client.stream.read(T, ns, "s", offset=1, max_messages=3)
    assert [(m.offset, m.payload) for m in got] == [(1, b"e1"), (2, b"e2"), (3, b"e3")]
    assert await client.stream.read(T, ns, "s", offset=5) == []
    assert await client.stream.get_latest_offset(T, ns, "s") == 4
    first = got[0]
    assert first.partition == 0 and first.timestamp is not None


async def test_headers_and_binary_payloads_round_trip(client: FlowMesh, ns: str):
    payload = bytes(range(256)) + b"\n\x00\n"
    await client.stream.write(T, ns, "s", [Event(payload=payload, headers={"k": "v\nw", "é": "ü"})])
    [msg] = await client.stream.read(T, ns, "s")
    assert msg.payload == payload and msg.headers == {"k": "v\nw", "é": "ü"}


async def test_partitions_by_key_hash_and_explicitly(client: FlowMesh, ns: str):
    await client.stream.configure(T, ns, "s", partitions=4)
    placed: dict[str, set[int]] = {}
    for key in ("alice", "bob", "carol", "dave", "erin"):
        for _ in range(3):
            await client.stream.write(
                T, ns, "s", [Event(payload=key.encode(), headers={"key": key})]
            )
    for p in range(4):
        for m in await client.stream.read(T, ns, "s", partition=p, max_messages=100):
            placed.setdefault(m.payload.decode(), set()).add(p)
            assert m.partition == p
    assert all(len(parts) == 1 for parts in placed.values())  # one key, one partition
    assert len(set().union(*placed.values())) > 1
    offsets = await client.stream.write(T, ns, "s", events(2), partition=3)
    got = await client.stream.read(T, ns, "s", partition=3, offset=offsets[0])
    assert [m.payload for m in got] == [b"e0", b"e1"]
    with pytest.raises(FlowMeshInvalidArgumentError, match="partition"):
        await client.stream.write(T, ns, "s", events(1), partition=4)
    with pytest.raises(FlowMeshInvalidArgumentError, match="partitions"):
        await client.stream.configure(T, ns, "s", partitions=2)


async def _first(client: FlowMesh, ns: str, group: str, start: int, n: int = 1) -> list[int]:
    got: list[int] = []
    async for msg in client.stream.subscribe(T, ns, "s", group, start_offset=start):
        got.append(msg.offset)
        if len(got) == n:
            return got
    raise AssertionError("subscription ended")


async def test_subscribe_start_offsets(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", events(5))
    assert await _first(client, ns, "g", 2, 3) == [2, 3, 4]
    # -1 with nothing committed starts at the beginning.
    assert await _first(client, ns, "g", -1) == [0]
    await client.stream.commit_offset(T, ns, "s", "g", 0, 3)
    assert await _first(client, ns, "g", -1) == [4]
    # -2 skips everything already written.
    task = asyncio.create_task(_first(client, ns, "g", -2))
    await asyncio.sleep(0.3)
    assert not task.done()
    await client.stream.write(T, ns, "s", events(1))
    assert await asyncio.wait_for(task, 5) == [5]


async def test_subscribe_delivers_a_backlog_in_order_and_new_writes_promptly(
    client: FlowMesh, ns: str
):
    for start in range(0, 1200, 200):
        await client.stream.write(T, ns, "s", events(200, start))
    got = await asyncio.wait_for(_first(client, ns, "g", 0, 1200), 20)
    assert got == list(range(1200))

    seen = asyncio.Event()

    async def follow() -> None:
        async for msg in client.stream.subscribe(T, ns, "s", "live", start_offset=-2):
            if msg.payload == b"now":
                seen.set()
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.3)
    await client.stream.write(T, ns, "s", [Event(payload=b"now")])
    # Pushed on write: the test server's fallback re-read is 60 s away.
    await asyncio.wait_for(seen.wait(), 15)
    await task


async def test_subscribe_waits_for_a_stream_that_does_not_exist_yet(client: FlowMesh, ns: str):
    task = asyncio.create_task(_first(client, ns, "g", -1))
    await asyncio.sleep(0.3)
    await client.stream.write(T, ns, "s", events(1))
    assert await asyncio.wait_for(task, 5) == [0]


async def test_consumer_group_state_and_lag(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", events(10))
    state = await client.stream.get_consumer_group_state(T, ns, "s", "billing")
    assert (state.committed_offset, state.latest_offset, state.lag) == (-1, 9, 10)
    await client.stream.commit_offset(T, ns, "s", "billing", 0, 6)
    assert await client.stream.get_offset(T, ns, "s", "billing") == 6
    state = await client.stream.get_consumer_group_state(T, ns, "s", "billing")
    assert (state.consumer_group, state.partition, state.lag) == ("billing", 0, 3)
    # Groups are independent.
    assert await client.stream.get_offset(T, ns, "s", "audit") == -1


async def test_consumer_groups_are_listed_per_partition_with_lag(client: FlowMesh, ns: str):
    await client.stream.configure(T, ns, "s", partitions=2)
    await client.stream.write(T, ns, "s", events(4), partition=0)
    await client.stream.write(T, ns, "s", events(2), partition=1)
    assert await client.stream.list_consumer_groups(T, ns, "s") == []
    await client.stream.commit_offset(T, ns, "s", "billing", 1, 0)
    await client.stream.commit_offset(T, ns, "s", "audit", 0, 1)
    await client.stream.commit_offset(T, ns, "s", "billing", 0, 3)
    found = await client.stream.list_consumer_groups(T, ns, "s")
    assert all(s.stream == f"{T}/{ns}/stream/s" for s in found)
    assert [(s.group, s.partition, s.committed_offset, s.latest_offset, s.lag) for s in found] == [
        ("audit", 0, 1, 3, 2), ("billing", 0, 3, 3, 0), ("billing", 1, 0, 1, 1),
    ]  # fmt: skip
    with pytest.raises(FlowMeshNotFoundError):
        await client.stream.list_consumer_groups(T, ns, "missing")


async def test_retention_by_count(client: FlowMesh, ns: str):
    await client.stream.configure(T, ns, "s", retention_max_messages=5)
    await client.stream.write(T, ns, "s", events(12))
    got = await client.stream.read(T, ns, "s", offset=0, max_messages=100)
    assert [m.offset for m in got] == [7, 8, 9, 10, 11]
    assert await client.stream.get_latest_offset(T, ns, "s") == 11
    assert await client.stream.write(T, ns, "s", events(1)) == [12]


async def test_retention_by_age(client: FlowMesh, ns: str):
    await client.stream.configure(T, ns, "s", retention_max_age=0.2)
    await client.stream.write(T, ns, "s", events(3))
    await asyncio.sleep(0.35)
    await client.stream.write(T, ns, "s", events(1, 3))
    got = await client.stream.read(T, ns, "s", offset=0, max_messages=100)
    assert [m.offset for m in got] == [3]


async def test_unknown_streams_are_not_found(client: FlowMesh, ns: str):
    with pytest.raises(FlowMeshNotFoundError):
        await client.stream.read(T, ns, "missing")
    with pytest.raises(FlowMeshNotFoundError):
        await client.stream.get_latest_offset(T, ns, "missing")
    with pytest.raises(FlowMeshNotFoundError):
        await client.stream.get_consumer_group_state(T, ns, "missing", "g")


async def test_tenants_do_not_share_streams(client: FlowMesh, ns: str):
    await client.stream.write("acme", ns, "s", events(2))
    await client.stream.write("globex", ns, "s", events(1))
    assert await client.stream.get_latest_offset("acme", ns, "s") == 1
    assert await client.stream.get_latest_offset("globex", ns, "s") == 0
