"""Sync state in Redis, one key space per org, so replicas share it.

Keys (under ``{prefix}:org:{org}``): ``channels`` and ``users`` (hashes of raw
Slack JSON), ``allowlist`` (set), ``cursor`` (hash channel -> newest ts),
``seen:{channel}`` (sorted set of ts, the dedup window), ``counts:{channel}``
(hash of counters) and ``dropped`` (hash channel -> messages dropped because
the channel is not allowlisted).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

__all__ = ["SyncStore", "ts_key"]


def ts_key(ts: str) -> Decimal:
    return Decimal(ts)


class SyncStore:
    """``client`` must decode responses (``decode_responses=True``)."""

    def __init__(self, client: aioredis.Redis, prefix: str, overlap_seconds: float) -> None:
        self._redis = client
        self._prefix = prefix
        self.overlap = Decimal(str(overlap_seconds))

    def _key(self, org: str, *parts: str) -> str:
        return ":".join([self._prefix, "org", org, *parts])

    async def aclose(self) -> None:
        await self._redis.aclose()

    # channels and users as Slack sent them (for the admin listing)

    async def put_raw(self, org: str, kind: str, items: dict[str, str]) -> None:
        if items:
            await self._redis.hset(self._key(org, kind), mapping=dict(items))  # type: ignore[arg-type]

    async def get_raw(self, org: str, kind: str) -> dict[str, str]:
        raw = await self._redis.hgetall(self._key(org, kind))
        return {str(k): str(v) for k, v in raw.items()}

    # allowlist

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

    # cursors and dedup

    async def cursors(self, org: str) -> dict[str, str]:
        return await self.get_raw(org, "cursor")

    def oldest_for(self, cursor: str | None) -> str:
        """Where the next sync of a channel starts: the cursor minus the overlap."""
        if cursor is None:
            return "0"
        start = max(ts_key(cursor) - self.overlap, Decimal(0))
        return f"{start:.6f}"

    async def claim_new(self, org: str, channel: str, ts_values: list[str]) -> list[str]:
        """Record ``ts_values`` as seen; return those not seen before (in input order)."""
        if not ts_values:
            return []
        key = self._key(org, "seen", channel)
        async with self._redis.pipeline(transaction=False) as pipe:
            for ts in ts_values:
                pipe.zadd(key, {ts: float(ts)}, nx=True)
            added = await pipe.execute()
        return [ts for ts, was_added in zip(ts_values, added, strict=True) if was_added]

    async def release(self, org: str, channel: str, ts_values: list[str]) -> None:
        """Forget ``ts_values`` (their delivery failed, so a retry must not be a duplicate)."""
        if ts_values:
            await self._redis.zrem(self._key(org, "seen", channel), *ts_values)

    async def advance(
        self, org: str, channel: str, newest: str | None, counts: dict[str, int]
    ) -> None:
        """Move the channel's cursor forward (never back) and add to its counters."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, value in counts.items():
                if value:
                    pipe.hincrby(self._key(org, "counts", channel), name, value)
            await pipe.execute()
        if newest is None:
            return
        cursor_key = self._key(org, "cursor")
        # A replica may advance the same channel concurrently: compare-and-set.
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(cursor_key)
                    stored = await pipe.hget(cursor_key, channel)
                    current = None if stored is None else str(stored)
                    pipe.multi()
                    if current is None or ts_key(current) < ts_key(newest):
                        pipe.hset(cursor_key, channel, newest)
                        current_ts = newest
                    else:
                        current_ts = current
                    await pipe.execute()
                    break
                except aioredis.WatchError:
                    continue
        # Dedup only matters inside the overlap window; keep a margin, drop the rest.
        floor = ts_key(current_ts) - 4 * self.overlap - 1
        await self._redis.zremrangebyscore(self._key(org, "seen", channel), "-inf", float(floor))

    async def count_dropped(self, org: str, channel: str, dropped: int) -> None:
        if dropped:
            await self._redis.hincrby(self._key(org, "dropped"), channel, dropped)

    async def status(self, org: str) -> dict[str, Any]:
        cursors = await self.cursors(org)
        allow = await self.allowlist(org)
        dropped = {k: int(v) for k, v in (await self.get_raw(org, "dropped")).items()}
        channels: dict[str, Any] = {}
        for channel in sorted(allow | set(cursors)):
            raw = await self._redis.hgetall(self._key(org, "counts", channel))
            channels[channel] = {
                "allowlisted": channel in allow,
                "cursor": cursors.get(channel),
                "next_oldest": self.oldest_for(cursors.get(channel)),
                "counts": {k: int(v) for k, v in raw.items()},
            }
        return {
            "channels": channels,
            "dropped_not_allowlisted": dropped,
            "dropped_total": sum(dropped.values()),
        }
