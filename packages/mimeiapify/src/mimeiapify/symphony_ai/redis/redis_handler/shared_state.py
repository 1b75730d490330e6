"""Tool/agent scratch space: named hashes per user (``{tenant}:state:{user}:{name}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.redis.redis_handler._named_state import Models, NamedStateRepo
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import _UNSET


class RedisSharedState(NamedStateRepo):
    """Per-user state that tools and agents read and write during a conversation."""

    redis_alias = "shared_state"
    default_ttl = 24 * 3600
    __slots__ = ()
    user_id: str

    def __init__(
        self,
        tenant: str,
        user_id: str,
        ttl_default: int | None = _UNSET,
        *,
        redis: Redis | None = None,
    ) -> None:
        super().__init__(tenant, user_id, ttl_default, redis=redis)

    def key(self, state_name: str, user_id: str | None = None) -> str:
        return KeyFactory.shared_state(self._root, self._user(user_id), state_name)

    def pattern(self, user_id: str | None = None) -> str:
        return KeyFactory.shared_state_pattern(self._root, self._user(user_id))

    async def set(self, state_name: str, data: Mapping[str, Any], ttl: Any = _UNSET) -> bool:
        """Replace the whole state (fields not in ``data`` are dropped), atomically."""
        return await self._hash_set(self.key(state_name), data, ttl, replace=True)

    async def get(self, state_name: str, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self.key(state_name), models)

    async def get_field(self, state_name: str, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self.key(state_name), field, model)

    async def set_field(self, state_name: str, field: str, value: Any, ttl: Any = _UNSET) -> bool:
        return await self._hash_set_field(self.key(state_name), field, value, ttl)

    async def update(
        self, state_name: str, data: Mapping[str, Any], ttl: Any = _UNSET, models: Models = None
    ) -> dict[str, Any]:
        """Merge fields into the state and return the merged state (one round trip)."""
        return await self._hash_merge(self.key(state_name), data, ttl, models)

    async def delete_field(self, state_name: str, field: str) -> bool:
        return await self._hash_delete_field(self.key(state_name), field)

    async def increment_field(
        self, state_name: str, field: str, amount: int | float = 1, ttl: Any = _UNSET
    ) -> int | float:
        return await self._hash_increment(self.key(state_name), field, amount, ttl)

    async def append_to_list(
        self, state_name: str, field: str, value: Any, ttl: Any = _UNSET
    ) -> int:
        return await self._hash_append(self.key(state_name), field, value, ttl)

    async def delete(self, state_name: str) -> bool:
        return await self._delete(self.key(state_name))

    async def exists(self, state_name: str) -> bool:
        return await self._exists(self.key(state_name))

    async def get_ttl(self, state_name: str) -> int:
        return await self._get_ttl(self.key(state_name))

    async def renew_ttl(self, state_name: str, ttl: Any = _UNSET) -> bool:
        return await self._renew_ttl(self.key(state_name), ttl)
