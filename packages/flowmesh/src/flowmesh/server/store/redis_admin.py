"""The Redis store's listings and access tokens (mixed into RedisStore).

Listings SCAN for each resource's ``meta``/``cfg`` key (on a cluster, every
master's keys); they serve dashboards and admin calls, not hot paths. The
tokens are one hash, ``<prefix>fm:tokens``: token id -> record (hash only).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flowmesh.server.errors import NotFound
from flowmesh.server.store.records import Resource, StreamConfig
from flowmesh.server.tokens import TokenRecord

if TYPE_CHECKING:
    import redis.asyncio as aioredis

_KIND_CODES = {"stream": ("s", "cfg"), "queue": ("q", "meta"), "kv": ("kv", "meta")}


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisAdminMixin:
    if TYPE_CHECKING:
        prefix: str
        _redis: aioredis.Redis

        def _base(self, kind: str, res: Resource) -> str: ...

    # -- listings
    async def list_resources(self, kind: str) -> list[Resource]:
        code, marker = _KIND_CODES[kind]
        head = f"{self.prefix}{{fm:{code}:"
        tail = f"}}:{marker}"
        found: set[Resource] = set()
        async for raw in self._redis.scan_iter(match=f"{_glob_escape(head)}*{tail}", count=1000):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            if not (key.startswith(head) and key.endswith(tail)):
                continue
            parts = key[len(head) : -len(tail)].split("/", 2)
            if len(parts) == 3:
                found.add(Resource(*parts))
        return sorted(found, key=lambda r: r.path)

    async def list_resources_page(
        self, kind: str, prefix: str, after: str, limit: int
    ) -> list[Resource]:
        # The names live only in their resources' own keys (no registry to range
        # over), so a page still SCANs every name; only the page's are returned.
        everything = await self.list_resources(kind)
        return [r for r in everything if r.path > after and r.path.startswith(prefix)][:limit]

    async def stream_config(self, stream: Resource) -> StreamConfig:
        raw: Any = await self._redis.hgetall(self._base("s", stream) + "cfg")
        if not raw:
            raise NotFound(f"stream {stream.path!r} does not exist")
        return StreamConfig(
            int(raw.get(b"partitions", 1)),
            int(raw.get(b"ret_count", 0)),
            int(raw.get(b"ret_age", 0)),
        )

    async def list_groups(self, stream: Resource) -> list[tuple[str, int, int]]:
        base = self._base("s", stream)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(base + "cfg")
            pipe.hgetall(base + "groups")
            exists, raw = await pipe.execute()
        if not exists:
            raise NotFound(f"stream {stream.path!r} does not exist")
        out: list[tuple[str, int, int]] = []
        for field, value in raw.items():
            group, _, partition = field.decode().rpartition(":")
            out.append((group, int(partition), int(value)))
        return sorted(out)

    async def kv_count(self, store: Resource) -> int:
        """Keys listed in the store's index (a key whose TTL ran out stays counted
        until the next listing prunes it)."""
        base = self._base("kv", store)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(base + "meta")
            pipe.zcard(base + "keys")
            exists, count = await pipe.execute()
        if not exists:
            raise NotFound(f"kv store {store.path!r} does not exist")
        return int(count)

    # -- access tokens
    @property
    def _tokens_key(self) -> str:
        return f"{self.prefix}fm:tokens"

    async def token_put(self, record: TokenRecord) -> None:
        await self._redis.hset(self._tokens_key, record.token_id, record.to_json())

    async def token_list(self) -> list[TokenRecord]:
        raw: Any = await self._redis.hgetall(self._tokens_key)
        return sorted((TokenRecord.from_json(doc) for doc in raw.values()),
                      key=lambda r: r.token_id)  # fmt: skip
