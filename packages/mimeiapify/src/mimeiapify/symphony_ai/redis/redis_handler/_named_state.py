"""Core shared by the two "named state per user" repositories.

``RedisSharedState`` (tool/agent scratch space) and ``RedisStateHandler``
(conversation handlers) both keep one hash per (state name, user); they differ
only in key layout, alias and a few method names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from mimeiapify.symphony_ai.errors import InvalidKeyPartError
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory, escape
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache

Models = Mapping[str, Any] | None


class NamedStateRepo(TenantCache, ABC):
    """Named hashes per user. Subclasses define the key layout."""

    def __init__(
        self,
        tenant: str,
        user_id: str | None = None,
        ttl_default: int | None = None,
        *,
        redis_alias: str | None = None,
        keys: KeyFactory | None = None,
        redis: Redis | None = None,
    ) -> None:
        super().__init__(tenant, ttl_default, redis_alias=redis_alias, keys=keys, redis=redis)
        if user_id is not None:
            escape(user_id, "user_id")  # validates early
        self.user_id = user_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tenant={self.tenant!r}, user_id={self.user_id!r})"

    def _user(self, user_id: str | None) -> str:
        chosen = user_id if user_id is not None else self.user_id
        if chosen is None:
            raise InvalidKeyPartError("user_id", "not given here nor when the repository was built")
        return chosen

    @abstractmethod
    def key(self, state_name: str, user_id: str | None = None) -> str:
        """The key of one state of one user."""

    def _key(self, state_name: str, user_id: str | None = None) -> str:  # 1.4's name
        return self.key(state_name, user_id)

    @abstractmethod
    def pattern(self, user_id: str | None = None) -> str:
        """A SCAN pattern matching every state of one user."""

    async def list_states(self, user_id: str | None = None) -> list[str]:
        """The exact names of this user's states (SCAN, never KEYS)."""
        keys = await self._scan(self.pattern(user_id))
        return sorted(KeyFactory.part(key, -2) for key in keys)

    async def clear_all_states(self, user_id: str | None = None) -> int:
        """Delete every state of this user; returns how many were removed."""
        return await self._delete_pattern(self.pattern(user_id))
