"""Sync state in Redis, for replicas that share it.

Keys (under ``{prefix}:org:{org}``): ``channels`` and ``users`` (hashes of raw
Slack JSON), ``allowlist`` (set), ``cursor`` (hash channel -> newest ts),
``seen:{channel}`` (sorted set of ts, the dedup window), ``counts:{channel}``
(hash of counters) and ``dropped`` (hash channel -> messages dropped because
the channel is not allowlisted).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from slack_connect.store.base import SyncStore, check_raw_kind, ts_score

__all__ = ["RedisSyncStore"]

# HSET only when the new time is later than the stored one
_MARK_SYNCED = """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored or tonumber(stored) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""


class RedisSyncStore(SyncStore):
    """``client`` must decode responses (``decode_responses=True``)."""

    def __init__(self, client: aioredis.Redis, prefix: str, overlap_seconds: float) -> None:
        super().__init__(overlap_seconds)
        self._redis = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str, overlap_seconds: float) -> RedisSyncStore:
        client = aioredis.from_url(url, decode_responses=True)
        return cls(client, prefix, overlap_seconds)

    def _key(self, org: str, *parts: str) -> str:
        return ":".join([self._prefix, "org", org, *parts])

    async def _hash(self, key: str) -> dict[str, str]:
        raw = await self._redis.hgetall(key)
        return {str(k): str(v) for k, v in raw.items()}

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def put_raw(self, org: str, kind: str, items: dict[str, str]) -> None:
        key = self._key(org, check_raw_kind(kind))
        if items:
            await self._redis.hset(key, mapping=dict(items))  # type: ignore[arg-type]

    async def get_raw(self, org: str, kind: str) -> dict[str, str]:
        return await self._hash(self._key(org, check_raw_kind(kind)))

    async def raw_page(
        self, org: str, kind: str, offset: int, limit: int
    ) -> tuple[list[tuple[str, str]], int]:
        key = self._key(org, check_raw_kind(kind))
        ids = sorted(str(k) for k in await self._redis.hkeys(key))  # ids only, not bodies
        wanted = ids[offset : offset + limit]
        bodies = await self._redis.hmget(key, wanted) if wanted else []
        return [(k, str(v)) for k, v in zip(wanted, bodies, strict=True) if v is not None], len(ids)

    async def set_allowlist(self, org: str, channel_ids: Iterable[str]) -> None:
        key = self._key(org, "allowlist")
        ids = sorted(set(channel_ids))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if ids:
                pipe.sadd(key, *ids)
            await pipe.execute()

    async def allowlist(self, org: str) -> set[str]:
        members = await self._redis.smembers(self._key(org, "allowlist"))
        return {str(m) for m in members}

    async def cursors(self, org: str) -> dict[str, str]:
        return await self._hash(self._key(org, "cursor"))

    async def claim_new(self, org: str, channel: str, ts_values: list[str]) -> list[str]:
        if not ts_values:
            return []
        scores = [ts_score(ts) for ts in ts_values]
        key = self._key(org, "seen", channel)
        # ZADD NX is atomic per member: exactly one caller sees each ts added.
        async with self._redis.pipeline(transaction=False) as pipe:
            for ts, score in zip(ts_values, scores, strict=True):
                pipe.zadd(key, {ts: score}, nx=True)
            added = await pipe.execute()
        return [ts for ts, was_added in zip(ts_values, added, strict=True) if was_added]

    async def release(self, org: str, channel: str, ts_values: list[str]) -> None:
        if ts_values:
            await self._redis.zrem(self._key(org, "seen", channel), *ts_values)

    async def count_dropped(self, org: str, channel: str, dropped: int) -> None:
        if dropped:
            await self._redis.hincrby(self._key(org, "dropped"), channel, dropped)

    async def dropped(self, org: str) -> dict[str, int]:
        return {k: int(v) for k, v in (await self._hash(self._key(org, "dropped"))).items()}

    async def counts(self, org: str, channel: str) -> dict[str, int]:
        raw = await self._hash(self._key(org, "counts", channel))
        return {k: int(v) for k, v in raw.items()}

    async def _add_counts(self, org: str, channel: str, counts: dict[str, int]) -> None:
        if not counts:
            return
        key = self._key(org, "counts", channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, value in counts.items():
                pipe.hincrby(key, name, value)
            await pipe.execute()

    async def _raise_cursor(self, org: str, channel: str, newest: str) -> str:
        cursor_key = self._key(org, "cursor")
        # Replicas may advance the same channel at once: compare-and-set.
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(cursor_key)
                    stored = await pipe.hget(cursor_key, channel)
                    current = None if stored is None else str(stored)
                    if not self.is_newer(newest, current):
                        await pipe.unwatch()
                        assert current is not None
                        return current
                    pipe.multi()
                    pipe.hset(cursor_key, channel, newest)
                    await pipe.execute()
                    return newest
                except aioredis.WatchError:
                    continue

    async def synced_at(self, org: str) -> dict[str, float]:
        return {k: float(v) for k, v in (await self._hash(self._key(org, "synced"))).items()}

    async def _mark_synced(self, org: str, channel: str, at: float) -> None:
        # the later time wins, also between replicas (one script, run atomically)
        await self._redis.eval(_MARK_SYNCED, 1, self._key(org, "synced"), channel, repr(at))

    async def _forget_seen_below(self, org: str, channel: str, floor: float) -> None:
        await self._redis.zremrangebyscore(self._key(org, "seen", channel), "-inf", floor)
