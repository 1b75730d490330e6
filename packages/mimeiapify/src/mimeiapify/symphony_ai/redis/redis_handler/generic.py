"""Plain key/value storage under the tenant (``{tenant}:generic:{key}``)."""

from __future__ import annotations

from typing import Any

from mimeiapify.symphony_ai.redis import ops
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import _UNSET, TenantCache


class RedisGeneric(TenantCache):
    """Values of any JSON-able type (or pydantic model) under tenant-scoped names."""

    redis_alias = "default"
    __slots__ = ()

    def key(self, key: str) -> str:
        return KeyFactory.generic(self._root, key)

    async def set(self, key: str, value: Any, ttl: Any = _UNSET) -> bool:
        """Store ``value`` (hash-field encoding, types survive) with its TTL in one command."""
        return await ops.set_with_ttl(self.redis, self.key(key), serde.dumps(value), self._ttl(ttl))

    async def get(self, key: str, model: Any = None) -> Any:
        value = serde.loads(await self.redis.get(self.key(key)))
        return serde.to_model(value, model, key) if model is not None else value

    async def delete(self, key: str) -> bool:
        return await self._delete(self.key(key))

    async def exists(self, key: str) -> bool:
        return await self._exists(self.key(key))

    async def increment(self, key: str, amount: int = 1, ttl: Any = _UNSET) -> int:
        """Atomic counter (INCRBY + optional EXPIRE in one MULTI)."""
        if type(amount) is not int:
            raise TypeError(f"amount: expected an int, got {type(amount).__name__}")
        seconds = self._ttl(ttl)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incrby(self.key(key), amount)
        if seconds:
            pipe.expire(self.key(key), seconds)
        results = await pipe.execute()
        return int(results[0])

    async def get_ttl(self, key: str) -> int:
        return await self._get_ttl(self.key(key))

    async def renew_ttl(self, key: str, ttl: Any = _UNSET) -> bool:
        return await self._renew_ttl(self.key(key), ttl)

    async def keys(self, pattern: str = "*") -> list[str]:
        """Names (unescaped) of this tenant's generic keys matching ``pattern`` (SCAN)."""
        found = await self._scan(KeyFactory.generic_pattern(self._root, pattern))
        return sorted(KeyFactory.last_part(key) for key in found)

    async def delete_pattern(self, pattern: str) -> int:
        """Delete this tenant's generic keys matching ``pattern`` in batches."""
        return await self._delete_pattern(KeyFactory.generic_pattern(self._root, pattern))
