"""Per-tenant work queues (Redis lists) plus a global set of tenants with pending work.

Keys as in 1.4 (alias ``handlers``): ``{tenant}:batch:{service}:{entity}:{action}``
holds the items, ``pending_batches:{service}`` the tenants. ``enqueue`` pushes the
item and marks the tenant pending in one MULTI/EXEC, so a worker that reads
``get_pending_tenants`` never misses a queue. Items are encoded as hash fields
are (text as itself, JSON otherwise), which is how 1.4 stored them.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import DEFAULT_KEYS
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache


class RedisBatch(TenantCache):
    """Queues of items per (service, entity, action) for one tenant."""

    default_alias = "handlers"

    def key(self, service: str, entity_key: str, action: str) -> str:
        return self.keys.batch_list(self.tenant, service, entity_key, action)

    _list_key = key  # 1.4's name

    async def enqueue(
        self, service: str, entity_key: str, action: str, data: Any, ttl: Any = None
    ) -> bool:
        """Append ``data`` to the queue and mark this tenant pending for ``service``.

        The queue does not expire unless ``ttl`` is given (1.4's lists never did).
        """
        key = self.key(service, entity_key, action)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(key, serde.dumps(data))
        pipe.sadd(self.keys.pending_set(service), self.tenant)
        if ttl is not None:
            seconds = self._ttl(ttl)
            if seconds:
                pipe.expire(key, seconds)
        await pipe.execute()
        return True

    async def get_chunk(
        self, service: str, entity_key: str, action: str, start: int = 0, end: int = -1
    ) -> list[Any]:
        """Items ``start..end`` (inclusive, like LRANGE)."""
        raw = await self.redis.lrange(self.key(service, entity_key, action), start, end)
        return [serde.loads(item) for item in raw]

    async def trim(self, service: str, entity_key: str, action: str, start: int, end: int) -> bool:
        """Keep only items ``start..end`` (LTRIM); ``trim(..., 100, -1)`` drops the first 100."""
        return bool(await self.redis.ltrim(self.key(service, entity_key, action), start, end))

    async def get_length(self, service: str, entity_key: str, action: str) -> int:
        return int(await self.redis.llen(self.key(service, entity_key, action)))

    length = get_length

    async def delete(self, service: str, entity_key: str, action: str) -> int:
        return await self._delete(self.key(service, entity_key, action))

    # -- global coordination: which tenants have queued work for a service --------------
    @classmethod
    def _global_client(cls, redis: Redis | None) -> Redis:
        return redis if redis is not None else RedisClient.get(cls.default_alias)

    @classmethod
    async def get_pending_tenants(cls, service: str, *, redis: Redis | None = None) -> set[str]:
        """The tenants with queued work for ``service``."""
        members = await cls._global_client(redis).smembers(DEFAULT_KEYS.pending_set(service))
        return {str(member) for member in members}

    @classmethod
    async def remove_from_pending(
        cls, service: str, tenant_prefix: str, *, redis: Redis | None = None
    ) -> int:
        key = DEFAULT_KEYS.pending_set(service)
        return int(await cls._global_client(redis).srem(key, tenant_prefix))
