"""Tool/agent scratch space: named hashes per user (``{tenant}:SS:{state_name}:{user_id}``).

1.4's methods (``upsert``, ``update_field``, ...) and the guide's (``set`` replaces
a state, ``set_field``) work side by side; ``update`` merges and returns the
merged state in one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.redis.redis_handler._named_state import Models, NamedStateRepo
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory


class RedisSharedState(NamedStateRepo):
    """Per-user state that tools and agents read and write during a conversation."""

    default_alias = "shared_state"
    user_id: str

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
        super().__init__(
            tenant, user_id, ttl_default, redis_alias=redis_alias, keys=keys, redis=redis
        )

    def key(self, state_name: str, user_id: str | None = None) -> str:
        return self.keys.shared_state(self.tenant, state_name, self._user(user_id))

    def pattern(self, user_id: str | None = None) -> str:
        return self.keys.shared_state_pattern(self.tenant, self._user(user_id))

    async def upsert(self, state_name: str, data: Mapping[str, Any], ttl: Any = None) -> bool:
        """Write these fields (others are kept) and restart the expiry."""
        return await self._hash_set(self.key(state_name), data, ttl)

    async def set(self, state_name: str, data: Mapping[str, Any], ttl: Any = None) -> bool:
        """Replace the whole state (fields not in ``data`` are dropped), atomically."""
        return await self._hash_set(self.key(state_name), data, ttl, replace=True)

    async def get(self, state_name: str, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self.key(state_name), models)

    async def get_field(self, state_name: str, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self.key(state_name), field, model)

    async def update_field(self, state_name: str, field: str, value: Any, ttl: Any = None) -> bool:
        """Write one field and restart the expiry."""
        return await self._hash_set_field(self.key(state_name), field, value, ttl)

    set_field = update_field  # the guide's name

    async def update(
        self, state_name: str, data: Mapping[str, Any], ttl: Any = None, models: Models = None
    ) -> dict[str, Any]:
        """Merge fields into the state and return the merged state (one round trip)."""
        return await self._hash_merge(self.key(state_name), data, ttl, models)

    async def delete_field(self, state_name: str, field: str) -> int:
        return await self._hash_delete_field(self.key(state_name), field)

    async def increment_field(
        self, state_name: str, field: str, increment: int | float = 1, ttl: Any = None
    ) -> int | float:
        return await self._hash_increment(self.key(state_name), field, increment, ttl)

    async def append_to_list(
        self, state_name: str, field: str, value: Any, ttl: Any = None
    ) -> bool:
        await self._hash_append(self.key(state_name), field, value, ttl)
        return True

    async def delete(self, state_name: str) -> int:
        return await self._delete(self.key(state_name))

    async def exists(self, state_name: str) -> bool:
        return await self._exists(self.key(state_name))
