"""Plain key/value storage under the tenant (``{tenant}:{key}``, alias ``default``).

As in 1.4, ``set`` stores without expiry unless ``ex`` (seconds) is given, and a
key may hold ``:`` to build a hierarchy under the tenant.
"""

from __future__ import annotations

from typing import Any

from mimeiapify.symphony_ai.redis import atomic
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import unescape
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache, check_ttl


class RedisGeneric(TenantCache):
    """Values of any JSON-able type (or pydantic model) under tenant-scoped names."""

    default_alias = "default"

    def key(self, key_base: str) -> str:
        return self.keys.generic(self.tenant, key_base)

    _key = key  # 1.4's name

    async def set(self, key_base: str, value: Any, ex: int | None = None) -> bool:
        """Store ``value`` (hash-field encoding, types survive), expiring after ``ex`` s."""
        seconds = check_ttl(ex, "ex") if ex is not None else None
        return await atomic.set_with_ttl(
            self.redis, self.key(key_base), serde.dumps(value), seconds
        )

    async def get(self, key_base: str, model: Any = None) -> Any:
        return serde.loads(await self.redis.get(self.key(key_base)), model)

    async def delete(self, key_base: str) -> int:
        return await self._delete(self.key(key_base))

    async def exists(self, key_base: str) -> bool:
        return await self._exists(self.key(key_base))

    async def increment(self, key_base: str, amount: int = 1, ex: int | None = None) -> int:
        """Atomic counter (INCRBY + optional EXPIRE in one MULTI)."""
        if type(amount) is not int:
            raise TypeError(f"amount: expected an int, got {type(amount).__name__}")
        key = self.key(key_base)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incrby(key, amount)
        if ex is not None:
            pipe.expire(key, check_ttl(ex, "ex"))
        results = await pipe.execute()
        return int(results[0])

    async def keys_matching(self, pattern: str = "*") -> list[str]:
        """This tenant's keys in the alias's database matching ``pattern`` (SCAN), as the
        names given to :meth:`set`."""
        found = await self._scan(self.keys.generic_pattern(self.tenant, pattern))
        root = len(self._root)
        return sorted(unescape(key[root:]) for key in found)

    async def delete_pattern(self, pattern: str) -> int:
        """Delete this tenant's keys matching ``pattern`` in batches."""
        return await self._delete_pattern(self.keys.generic_pattern(self.tenant, pattern))
