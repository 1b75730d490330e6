"""Conversation-handler state (``{tenant}:handler:{user}:{state_name}``).

Every method takes an optional ``user_id`` after its own arguments; it defaults
to the one given to the constructor, so both ``RedisStateHandler(t, u).get("chat")``
and ``RedisStateHandler(t).get("chat", "u")`` work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mimeiapify.symphony_ai.redis.redis_handler._named_state import Models, NamedStateRepo
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import _UNSET


class RedisStateHandler(NamedStateRepo):
    """State machines of conversational handlers, one hash per (user, handler)."""

    redis_alias = "handlers"
    default_ttl = 24 * 3600
    __slots__ = ()

    def key(self, state_name: str, user_id: str | None = None) -> str:
        return KeyFactory.handler(self._root, state_name, self._user(user_id))

    def pattern(self, user_id: str | None = None) -> str:
        return KeyFactory.handler_pattern(self._root, self._user(user_id))

    async def set(
        self,
        state_name: str,
        data: Mapping[str, Any],
        user_id: str | None = None,
        ttl: Any = _UNSET,
    ) -> bool:
        """Replace the whole state, atomically."""
        return await self._hash_set(self.key(state_name, user_id), data, ttl, replace=True)

    async def get(
        self, state_name: str, user_id: str | None = None, models: Models = None
    ) -> dict[str, Any] | None:
        return await self._hash_get(self.key(state_name, user_id), models)

    async def get_field(
        self, state_name: str, field: str, user_id: str | None = None, model: Any = None
    ) -> Any:
        return await self._hash_get_field(self.key(state_name, user_id), field, model)

    async def update_field(
        self, state_name: str, field: str, value: Any, user_id: str | None = None, ttl: Any = _UNSET
    ) -> bool:
        return await self._hash_set_field(self.key(state_name, user_id), field, value, ttl)

    async def upsert(
        self,
        state_name: str,
        data: Mapping[str, Any],
        user_id: str | None = None,
        ttl: Any = _UNSET,
        models: Models = None,
    ) -> dict[str, Any]:
        """Merge ``data`` into the state (other fields kept) and return the final state."""
        return await self._hash_merge(self.key(state_name, user_id), data, ttl, models)

    async def delete_field(self, state_name: str, field: str, user_id: str | None = None) -> bool:
        return await self._hash_delete_field(self.key(state_name, user_id), field)

    async def increment_field(
        self,
        state_name: str,
        field: str,
        amount: int | float = 1,
        user_id: str | None = None,
        ttl: Any = _UNSET,
    ) -> int | float:
        return await self._hash_increment(self.key(state_name, user_id), field, amount, ttl)

    async def append_to_list(
        self, state_name: str, field: str, value: Any, user_id: str | None = None, ttl: Any = _UNSET
    ) -> int:
        return await self._hash_append(self.key(state_name, user_id), field, value, ttl)

    async def delete(self, state_name: str, user_id: str | None = None) -> bool:
        return await self._delete(self.key(state_name, user_id))

    async def exists(self, state_name: str, user_id: str | None = None) -> bool:
        return await self._exists(self.key(state_name, user_id))

    async def get_ttl(self, state_name: str, user_id: str | None = None) -> int:
        return await self._get_ttl(self.key(state_name, user_id))

    async def renew_ttl(
        self, state_name: str, user_id: str | None = None, ttl: Any = _UNSET
    ) -> bool:
        return await self._renew_ttl(self.key(state_name, user_id), ttl)
