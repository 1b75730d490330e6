"""KV on both stores: TTL, get/delete/exists, paged prefix listing, limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from flowmesh import FlowMesh, FlowMeshNotFoundError

pytestmark = pytest.mark.integration
T = "acme"


async def test_set_get_exists_delete(client: FlowMesh, ns: str):
    await client.kv.set(T, ns, "kv", "a", b"1")
    await client.kv.set(T, ns, "kv", "a", b"2")  # overwrite
    assert await client.kv.get(T, ns, "kv", "a") == b"2"
    assert await client.kv.exists(T, ns, "kv", "a")
    assert await client.kv.delete(T, ns, "kv", "a") is True
    assert await client.kv.delete(T, ns, "kv", "a") is False
    assert not await client.kv.exists(T, ns, "kv", "a")
    with pytest.raises(FlowMeshNotFoundError, match="'a'"):
        await client.kv.get(T, ns, "kv", "a")


async def test_expired_keys_vanish_at_once(client: FlowMesh, ns: str):
    await client.kv.set(T, ns, "kv", "short", b"x", ttl=timedelta(seconds=1.5))
    await client.kv.set(T, ns, "kv", "long", b"y", ttl=timedelta(hours=1))
    await client.kv.set(T, ns, "kv", "forever", b"z")
    assert await client.kv.list_keys(T, ns, "kv") == ["forever", "long", "short"]
    await asyncio.sleep(1.6)
    assert not await client.kv.exists(T, ns, "kv", "short")
    with pytest.raises(FlowMeshNotFoundError):
        await client.kv.get(T, ns, "kv", "short")
    assert await client.kv.list_keys(T, ns, "kv") == ["forever", "long"]
    # Setting again without a TTL makes it permanent.
    await client.kv.set(T, ns, "kv", "long", b"y2")
    assert await client.kv.get(T, ns, "kv", "long") == b"y2"


async def test_prefix_listing_is_paged_and_ordered(client: FlowMesh, ns: str):
    keys = [f"user:{i:04d}" for i in range(250)] + ["order:1", "user", "userx", "ü:1"]
    await asyncio.gather(*(client.kv.set(T, ns, "kv", k, b"v") for k in keys))
    pages = [k async for k in client.kv.iter_keys(T, ns, "kv", prefix="user:", page_size=40)]
    assert pages == [f"user:{i:04d}" for i in range(250)]
    assert await client.kv.list_keys(T, ns, "kv", prefix="user") == sorted(
        k for k in keys if k.startswith("user")
    )
    assert await client.kv.list_keys(T, ns, "kv", prefix="ü") == ["ü:1"]
    assert await client.kv.list_keys(T, ns, "kv", prefix="nothing") == []
    assert len(await client.kv.list_keys(T, ns, "kv")) == len(keys)


async def test_binary_values_and_the_size_cap(client: FlowMesh, ns: str, refused: Any):
    blob = bytes(range(256)) * 4096  # exactly 1 MiB: allowed
    await client.kv.set(T, ns, "kv", "blob", blob)
    assert await client.kv.get(T, ns, "kv", "blob") == blob
    with refused("kv.set", "value: is 1048577 bytes"):
        await client.kv.set(T, ns, "kv", "big", blob + b"!")
    assert not await client.kv.exists(T, ns, "kv", "big")


async def test_unknown_stores_and_bad_keys(client: FlowMesh, ns: str, refused: Any):
    with pytest.raises(FlowMeshNotFoundError):
        await client.kv.get(T, ns, "missing", "k")
    with pytest.raises(FlowMeshNotFoundError):
        await client.kv.list_keys(T, ns, "missing")
    assert not await client.kv.exists(T, ns, "missing", "k")
    with refused("kv.set", "key: is required"):
        await client.kv.set(T, ns, "kv", "", b"v")
    with refused("kv.set", "key: is over the limit"):
        await client.kv.set(T, ns, "kv", "k" * 1025, b"v")


async def test_keys_with_separators_stay_inside_their_store(client: FlowMesh, ns: str):
    await client.kv.set(T, ns, "a", "b}:v:c", b"1")
    await client.kv.set(T, ns, "a", "{x}", b"2")
    assert await client.kv.list_keys(T, ns, "a") == ["b}:v:c", "{x}"]
    with pytest.raises(FlowMeshNotFoundError):
        await client.kv.list_keys(T, ns, "b")
