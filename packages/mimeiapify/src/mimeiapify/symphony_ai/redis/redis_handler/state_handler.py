"""Conversation-handler state (``{tenant}:state:{handler_name}:{user_id}``).

Methods take 1.4's arguments in 1.4's order (``upsert(name, data, ttl)``,
``merge(name, data, ttl, models)``); the user is the one given to the
constructor, or ``user_id=`` on any call (``get`` also takes it second, as the
guide writes ``handlers.get("chat", "user123", models=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mimeiapify.symphony_ai.redis.redis_handler._named_state import Models, NamedStateRepo
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import KEEP_TTL, check_field


class RedisStateHandler(NamedStateRepo):
    """State machines of conversational handlers, one hash per (handler, user)."""

    default_alias = "handlers"

    def key(self, state_name: str, user_id: str | None = None) -> str:
        return self.keys.handler(self.tenant, state_name, self._user(user_id))

    def pattern(self, user_id: str | None = None) -> str:
        return self.keys.handler_pattern(self.tenant, self._user(user_id))

    async def get(
        self, handler_name: str, *args: Any, models: Models = None, user_id: str | None = None
    ) -> dict[str, Any] | None:
        """The whole state. Second argument: ``models`` (1.4) or a user id (the guide)."""
        if len(args) > 1:
            raise TypeError("get() takes a handler name and models or a user id")
        if args:
            if isinstance(args[0], str):
                user_id = args[0]
            else:
                models = args[0]
        return await self._hash_get(self.key(handler_name, user_id), models)

    async def set(
        self,
        handler_name: str,
        data: Mapping[str, Any],
        ttl: Any = None,
        *,
        user_id: str | None = None,
    ) -> bool:
        """Replace the whole state, atomically."""
        return await self._hash_set(self.key(handler_name, user_id), data, ttl, replace=True)

    async def upsert(
        self,
        handler_name: str,
        state_data: Mapping[str, Any],
        ttl: Any = None,
        *,
        user_id: str | None = None,
    ) -> bool:
        """Write these fields (others are kept) and restart the expiry; True (as 1.4).
        :meth:`merge` returns the resulting state instead."""
        return await self._hash_set(self.key(handler_name, user_id), state_data, ttl)

    async def merge(
        self,
        handler_name: str,
        state_data: Mapping[str, Any],
        ttl: Any = None,
        models: Models = None,
        *,
        user_id: str | None = None,
        stamp: bool = True,
    ) -> dict[str, Any]:
        """Merge ``state_data`` into the state and return the merged state, atomically.

        As 1.4 did, ``handler_type`` (the handler name) and ``timestamp`` (UTC, ISO
        8601) are written with it; ``stamp=False`` leaves them out.
        """
        data = dict(state_data)
        if stamp:
            now = datetime.now(UTC).replace(tzinfo=None)  # 1.4's naive-UTC text
            data.update(handler_type=handler_name, timestamp=now.isoformat())
        return await self._hash_merge(self.key(handler_name, user_id), data, ttl, models)

    async def get_field(
        self,
        handler_name: str,
        field: str,
        *,
        user_id: str | None = None,
        decode: bool = False,
        model: Any = None,
    ) -> Any:
        """The field as text, the way 1.4 stored and returned it (``"2"`` for 2);
        ``decode=True`` (or a ``model``) decodes it like every other repository does."""
        key = self.key(handler_name, user_id)
        if decode or model is not None:
            return await self._hash_get_field(key, field, model)
        stored: str | None = await self.redis.hget(key, check_field(field))  # type: ignore[assignment]
        return serde.legacy_text(stored)

    async def update_field(
        self,
        handler_name: str,
        field: str,
        value: Any,
        ttl: Any = None,
        *,
        user_id: str | None = None,
    ) -> bool:
        """Write one field. Without ``ttl`` the expiry is left as it is (as in 1.4)."""
        seconds = KEEP_TTL if ttl is None else ttl
        return await self._hash_set_field(self.key(handler_name, user_id), field, value, seconds)

    async def increment_field(
        self,
        handler_name: str,
        field: str,
        increment: int | float = 1,
        ttl: Any = None,
        *,
        user_id: str | None = None,
    ) -> int | float:
        return await self._hash_increment(self.key(handler_name, user_id), field, increment, ttl)

    async def append_to_list(
        self,
        handler_name: str,
        field: str,
        value: Any,
        ttl: Any = None,
        *,
        user_id: str | None = None,
    ) -> bool:
        await self._hash_append(self.key(handler_name, user_id), field, value, ttl)
        return True

    async def delete_field(
        self, handler_name: str, field: str, *, user_id: str | None = None
    ) -> int:
        return await self._hash_delete_field(self.key(handler_name, user_id), field)

    async def delete(self, handler_name: str, *, user_id: str | None = None) -> int:
        return await self._delete(self.key(handler_name, user_id))

    async def exists(self, handler_name: str, *, user_id: str | None = None) -> bool:
        return await self._exists(self.key(handler_name, user_id))
