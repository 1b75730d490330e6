"""Per-tenant work queues (Redis lists) plus a global set of tenants with pending work.

``enqueue`` pushes the item and marks the tenant pending for the service in one
MULTI/EXEC, so a worker that reads ``get_pending_tenants`` never misses a queue.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import _UNSET, TenantCache


class RedisBatch(TenantCache):
    """Queues of JSON items per (service, batch name, action) for one tenant."""

    redis_alias = "default"
    __slots__ = ()

    def key(self, service: str, batch_name: str, action: str) -> str:
        return KeyFactory.batch(self._root, service, batch_name, action)

    async def enqueue(
        self, service: str, batch_name: str, action: str, item: Any, ttl: Any = _UNSET
    ) -> int:
        """Append ``item`` to the queue and mark this tenant pending; returns the queue length."""
        key = self.key(service, batch_name, action)
        seconds = self._ttl(ttl)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, serde.dumps_json(item))
        pipe.sadd(KeyFactory.pending_batches(service), self.tenant)
        if seconds:
            pipe.expire(key, seconds)
        results = await pipe.execute()
        return int(results[0])

    async def get_chunk(
        self, service: str, batch_name: str, action: str, start: int = 0, end: int = -1
    ) -> list[Any]:
        """Items ``start..end`` (inclusive, like LRANGE)."""
        raw = await self.redis.lrange(self.key(service, batch_name, action), start, end)
        return [serde.loads_json(item) for item in raw]

    async def trim(self, service: str, batch_name: str, action: str, start: int, end: int) -> bool:
        """Keep only items ``start..end`` (LTRIM); ``trim(..., 100, -1)`` drops the first 100."""
        return bool(await self.redis.ltrim(self.key(service, batch_name, action), start, end))

    async def length(self, service: str, batch_name: str, action: str) -> int:
        return int(await self.redis.llen(self.key(service, batch_name, action)))

    async def delete(self, service: str, batch_name: str, action: str) -> bool:
        return await self._delete(self.key(service, batch_name, action))

    # -- global coordination: which tenants have queued work for a service --------------
    @classmethod
    def _global_client(cls, redis: Redis | None) -> Redis:
        return redis if redis is not None else RedisClient.get(cls.redis_alias)

    @classmethod
    async def get_pending_tenants(cls, service: str, *, redis: Redis | None = None) -> list[str]:
        members = await cls._global_client(redis).smembers(KeyFactory.pending_batches(service))
        return sorted(str(member) for member in members)

    @classmethod
    async def remove_from_pending(
        cls, service: str, tenant: str, *, redis: Redis | None = None
    ) -> bool:
        removed = await cls._global_client(redis).srem(KeyFactory.pending_batches(service), tenant)
        return bool(removed)
