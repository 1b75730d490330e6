"""User records: one hash per user (``{tenant}:user:{user_id}``, alias ``user``).

``RedisUser`` is bound to one user (1.4's API). ``RedisUsers`` is the tenant-wide
view whose methods take the user id first (handy in admin code and for the
typed-read examples); both map onto the same :class:`TenantCache` helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache

Models = Mapping[str, Any] | None


class RedisUsers(TenantCache):
    """Every user of one tenant; methods take ``user_id`` as their first argument."""

    default_alias = "user"

    def key(self, user_id: str) -> str:
        return self.keys.user(self.tenant, user_id)

    async def upsert(self, user_id: str, data: Mapping[str, Any], ttl: Any = None) -> bool:
        """Create or update fields (others are kept); the TTL is set in the same round trip."""
        return await self._hash_set(self.key(user_id), data, ttl)

    async def get(self, user_id: str, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self.key(user_id), models)

    async def get_field(self, user_id: str, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self.key(user_id), field, model)

    async def update_field(self, user_id: str, field: str, value: Any, ttl: Any = None) -> bool:
        return await self._hash_set_field(self.key(user_id), field, value, ttl)

    async def delete_field(self, user_id: str, field: str) -> int:
        return await self._hash_delete_field(self.key(user_id), field)

    async def increment_field(
        self, user_id: str, field: str, increment: int | float = 1, ttl: Any = None
    ) -> int | float:
        return await self._hash_increment(self.key(user_id), field, increment, ttl)

    async def append_to_list(self, user_id: str, field: str, value: Any, ttl: Any = None) -> bool:
        await self._hash_append(self.key(user_id), field, value, ttl)
        return True

    async def delete(self, user_id: str) -> int:
        return await self._delete(self.key(user_id))

    async def exists(self, user_id: str) -> bool:
        return await self._exists(self.key(user_id))

    async def list_user_ids(self) -> list[str]:
        """Every user id of the tenant (SCAN, never KEYS)."""
        keys = await self._scan(self.keys.user_pattern(self.tenant))
        return sorted(KeyFactory.part(key, -1) for key in keys)

    async def find_all_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> list[dict[str, Any]]:
        """Every user whose ``field`` equals ``value`` (as we or 1.4 stored it)."""
        return await self._find_all(self.keys.user_pattern(self.tenant), field, value, models)

    async def find_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> dict[str, Any] | None:
        """The first user whose ``field`` equals ``value``, or None."""
        pattern = self.keys.user_pattern(self.tenant)
        found = await self._find_all(pattern, field, value, models, first=True)
        return found[0] if found else None


class RedisUser(TenantCache):
    """One user's record; no need to repeat the user id on every call."""

    default_alias = "user"

    def __init__(
        self,
        tenant: str,
        user_id: str,
        ttl_default: int | None = None,
        *,
        redis_alias: str | None = None,
        keys: KeyFactory | None = None,
        redis: Redis | None = None,
    ) -> None:
        super().__init__(tenant, ttl_default, redis_alias=redis_alias, keys=keys, redis=redis)
        self._users = RedisUsers(
            tenant, self.ttl_default, redis_alias=self.redis_alias, keys=self.keys, redis=redis
        )
        self.user_id = user_id
        self._user_key = self._users.key(user_id)

    def __repr__(self) -> str:
        return f"RedisUser(tenant={self.tenant!r}, user_id={self.user_id!r})"

    def key(self) -> str:
        return self._user_key

    _key = key  # 1.4's name

    async def upsert(self, data: Mapping[str, Any], ttl: Any = None) -> bool:
        return await self._hash_set(self._user_key, data, ttl)

    async def get(self, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self._user_key, models)

    async def get_field(self, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self._user_key, field, model)

    async def update_field(self, field: str, value: Any, ttl: Any = None) -> bool:
        return await self._hash_set_field(self._user_key, field, value, ttl)

    async def delete_field(self, field: str) -> int:
        return await self._hash_delete_field(self._user_key, field)

    async def increment_field(
        self, field: str, increment: int | float = 1, ttl: Any = None
    ) -> int | float:
        return await self._hash_increment(self._user_key, field, increment, ttl)

    async def append_to_list(self, field: str, value: Any, ttl: Any = None) -> bool:
        await self._hash_append(self._user_key, field, value, ttl)
        return True

    async def delete(self) -> int:
        return await self._delete(self._user_key)

    async def exists(self) -> bool:
        return await self._exists(self._user_key)

    async def find_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> dict[str, Any] | None:
        """Search across all users of the tenant (whatever this instance's user id is)."""
        return await self._users.find_by_field(field, value, models)

    async def find_all_by_field(
        self, field: str, value: Any, models: Models = None
    ) -> list[dict[str, Any]]:
        return await self._users.find_all_by_field(field, value, models)
