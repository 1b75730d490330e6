"""User records: one hash per user (``{tenant}:user:{user_id}``).

``RedisUser`` is bound to one user. ``RedisUsers`` is the tenant-wide view whose
methods take the user id first (handy in admin code and for the typed-read
examples); both map onto the same :class:`TenantCache` helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import (
    _UNSET,
    TenantCache,
    check_field,
)

Models = Mapping[str, Any] | None


class RedisUsers(TenantCache):
    """Every user of one tenant; methods take ``user_id`` as their first argument."""

    redis_alias = "user"
    __slots__ = ()

    def key(self, user_id: str) -> str:
        return KeyFactory.user(self._root, user_id)

    async def upsert(self, user_id: str, data: Mapping[str, Any], ttl: Any = _UNSET) -> bool:
        """Create or update fields (others are kept); the TTL is set in the same round trip."""
        return await self._hash_set(self.key(user_id), data, ttl)

    async def get(self, user_id: str, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self.key(user_id), models)

    async def get_field(self, user_id: str, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self.key(user_id), field, model)

    async def update_field(self, user_id: str, field: str, value: Any, ttl: Any = _UNSET) -> bool:
        return await self._hash_set_field(self.key(user_id), field, value, ttl)

    async def delete_field(self, user_id: str, field: str) -> bool:
        return await self._hash_delete_field(self.key(user_id), field)

    async def increment_field(
        self, user_id: str, field: str, amount: int | float = 1, ttl: Any = _UNSET
    ) -> int | float:
        return await self._hash_increment(self.key(user_id), field, amount, ttl)

    async def append_to_list(self, user_id: str, field: str, value: Any, ttl: Any = _UNSET) -> int:
        return await self._hash_append(self.key(user_id), field, value, ttl)

    async def delete(self, user_id: str) -> bool:
        return await self._delete(self.key(user_id))

    async def exists(self, user_id: str) -> bool:
        return await self._exists(self.key(user_id))

    async def get_ttl(self, user_id: str) -> int:
        return await self._get_ttl(self.key(user_id))

    async def renew_ttl(self, user_id: str, ttl: Any = _UNSET) -> bool:
        return await self._renew_ttl(self.key(user_id), ttl)

    async def list_user_ids(self) -> list[str]:
        """Every user id of the tenant (SCAN, never KEYS)."""
        keys = await self._scan(KeyFactory.user_pattern(self._root))
        return sorted(KeyFactory.last_part(key) for key in keys)

    async def find_all_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> list[dict[str, Any]]:
        """Every user whose ``field`` equals ``value`` (compared in stored form)."""
        wanted = serde.dumps(value)
        check_field(field)
        client = self.redis
        keys = await self._scan(KeyFactory.user_pattern(self._root))
        matches: list[dict[str, Any]] = []
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.hget(key, field)
            stored = await pipe.execute()
            for key, raw in zip(chunk, stored, strict=True):
                if raw == wanted:
                    record = await self._hash_get(key, models)
                    if record is not None:
                        matches.append(record)
        return matches

    async def find_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> dict[str, Any] | None:
        """The first user whose ``field`` equals ``value``, or None."""
        found = await self.find_all_by_field(field, value, models)
        return found[0] if found else None


class RedisUser(TenantCache):
    """One user's record; no need to repeat the user id on every call."""

    redis_alias = "user"
    __slots__ = ("_key", "_users", "user_id")

    def __init__(
        self,
        tenant: str,
        user_id: str,
        ttl_default: int | None = _UNSET,
        *,
        redis: Redis | None = None,
    ) -> None:
        super().__init__(tenant, ttl_default, redis=redis)
        self._users = RedisUsers(tenant, self.ttl_default, redis=redis)
        self.user_id = user_id
        self._key = self._users.key(user_id)

    def __repr__(self) -> str:
        return f"RedisUser(tenant={self.tenant!r}, user_id={self.user_id!r})"

    async def upsert(self, data: Mapping[str, Any], ttl: Any = _UNSET) -> bool:
        return await self._hash_set(self._key, data, ttl)

    async def get(self, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self._key, models)

    async def get_field(self, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self._key, field, model)

    async def update_field(self, field: str, value: Any, ttl: Any = _UNSET) -> bool:
        return await self._hash_set_field(self._key, field, value, ttl)

    async def delete_field(self, field: str) -> bool:
        return await self._hash_delete_field(self._key, field)

    async def increment_field(
        self, field: str, amount: int | float = 1, ttl: Any = _UNSET
    ) -> int | float:
        return await self._hash_increment(self._key, field, amount, ttl)

    async def append_to_list(self, field: str, value: Any, ttl: Any = _UNSET) -> int:
        return await self._hash_append(self._key, field, value, ttl)

    async def delete(self) -> bool:
        return await self._delete(self._key)

    async def exists(self) -> bool:
        return await self._exists(self._key)

    async def get_ttl(self) -> int:
        return await self._get_ttl(self._key)

    async def renew_ttl(self, ttl: Any = _UNSET) -> bool:
        return await self._renew_ttl(self._key, ttl)

    async def find_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> dict[str, Any] | None:
        """Search across all users of the tenant (whatever this instance's user id is)."""
        return await self._users.find_by_field(field, value, models)

    async def find_all_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> list[dict[str, Any]]:
        return await self._users.find_all_by_field(field, value, models)
