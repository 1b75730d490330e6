"""The Redis store keeps each resource's keys in one cluster slot, under its prefix."""

from __future__ import annotations

import re
import uuid

import pytest
import redis

from flowmesh.server.store.base import Resource
from flowmesh.server.store.redis import RedisStore

pytestmark = pytest.mark.integration


async def test_every_key_of_a_resource_shares_one_hash_tag(redis_url: str, redis_prefix: str):
    prefix = f"{redis_prefix}layout{uuid.uuid4().hex[:6]}:"
    store = RedisStore(redis_url, prefix=prefix)
    await store.open()
    try:
        res = Resource("acme", "ns", "thing")
        await store.append(res, [(b"x", {"key": "k"})], None)
        await store.commit_offset(res, "g", 0, 0)
        await store.enqueue(res, b"job", {}, 0, "d1", 60_000)
        reserved = await store.reserve(res, 1, 10)
        await store.nack(res, reserved.jobs[0].id, None, "boom")
        await store.kv_set(res, "key{with}braces", b"v", 60_000)
    finally:
        await store.close()
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    client.close()
    assert keys and all(k.startswith(prefix) for k in keys)
    tags = {}
    for key in keys:
        match = re.match(re.escape(prefix) + r"\{(fm:(s|q|kv):acme/ns/thing)\}:", key)
        assert match, key
        tags.setdefault(match.group(2), set()).add(match.group(1))
    assert {kind: len(t) for kind, t in tags.items()} == {"s": 1, "q": 1, "kv": 1}


def test_a_prefix_with_braces_is_refused():
    with pytest.raises(ValueError, match="prefix"):
        RedisStore("redis://127.0.0.1:6379/0", prefix="{bad}")
