"""Expiration triggers: a key whose expiry *is* the event.

Keys look like ``{tenant}:EXPTRIGGER:{action}:{identifier}`` (alias ``expiry``).
``RedisTrigger.set("send_reminder", "user_123", ttl_seconds=3600)`` arms a
trigger; when Redis expires the key, the expiry listener (in
:mod:`mimeiapify.symphony_ai.redis.listeners`) calls the handler registered for
the action.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache, check_ttl


class RedisTrigger(TenantCache):
    """Arms and disarms expiration triggers for one tenant."""

    default_alias = "expiry"

    def key(self, action: str, identifier: str) -> str:
        return self.keys.trigger(self.tenant, action, identifier)

    _key = key  # 1.4's name

    async def set(self, action: str, identifier: str, ttl_seconds: int) -> bool:
        """Arm (or re-arm) the trigger to fire in ``ttl_seconds``."""
        seconds = check_ttl(ttl_seconds, "ttl_seconds")
        # the value only helps debugging (1.4 stored the same); the expiry is the event
        stamp = f"trigger:{datetime.now(UTC).replace(tzinfo=None).isoformat()}"
        return bool(await self.redis.set(self.key(action, identifier), stamp, ex=seconds))

    async def delete(self, action: str, identifier: str) -> int:
        """Disarm one trigger (it will not fire)."""
        return await self._delete(self.key(action, identifier))

    async def delete_all_by_identifier(self, identifier: str) -> int:
        """Disarm every trigger of any action for ``identifier``."""
        return await self._delete_pattern(
            self.keys.trigger_identifier_pattern(self.tenant, identifier)
        )

    async def exists(self, action: str, identifier: str) -> bool:
        return await self._exists(self.key(action, identifier))
