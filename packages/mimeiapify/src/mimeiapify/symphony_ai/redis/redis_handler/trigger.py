"""Expiration triggers: a key whose expiry *is* the event.

Keys look like ``{tenant}:trigger:{action}:{identifier}``.
``RedisTrigger.set("send_reminder", "user_123", ttl_seconds=3600)`` arms a
trigger; when Redis expires the key, the ``ExpirationListener`` (in
:mod:`mimeiapify.symphony_ai.redis.listeners`) dispatches
``(tenant, action, identifier)`` to the handler registered for the action.
"""

from __future__ import annotations

from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache, check_ttl


class RedisTrigger(TenantCache):
    """Arms and disarms expiration triggers for one tenant."""

    redis_alias = "expiry"
    __slots__ = ()

    def key(self, action: str, identifier: str) -> str:
        return KeyFactory.trigger(self._root, action, identifier)

    async def set(self, action: str, identifier: str, ttl_seconds: int) -> bool:
        """Arm (or re-arm) the trigger to fire in ``ttl_seconds``."""
        seconds = check_ttl(ttl_seconds, "ttl_seconds")
        if seconds is None:
            raise ValueError("ttl_seconds: a trigger needs an expiry")
        return bool(await self.redis.set(self.key(action, identifier), "1", ex=seconds))

    async def delete(self, action: str, identifier: str) -> bool:
        """Disarm one trigger (it will not fire)."""
        return await self._delete(self.key(action, identifier))

    async def delete_all_by_identifier(self, identifier: str) -> int:
        """Disarm every trigger of any action for ``identifier``."""
        return await self._delete_pattern(
            KeyFactory.trigger_identifier_pattern(self._root, identifier)
        )

    async def exists(self, action: str, identifier: str) -> bool:
        return await self._exists(self.key(action, identifier))

    async def get_ttl(self, action: str, identifier: str) -> int:
        return await self._get_ttl(self.key(action, identifier))
