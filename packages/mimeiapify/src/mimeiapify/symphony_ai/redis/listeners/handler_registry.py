"""Expiration handlers registered the 1.4 way: a process-wide registry keyed by action.

::

    from mimeiapify.symphony_ai.redis.listeners import expiration_registry

    @expiration_registry.on_expire_action("send_reminder")
    async def remind(identifier: str, full_key: str) -> None: ...

When ``{tenant}:EXPTRIGGER:send_reminder:{identifier}`` expires, the expiry
listener calls ``remind(identifier, full_key)`` (the tenant is the first
component of ``full_key``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import DEFAULT_KEYS, KeyFactory
from mimeiapify.utils.logger import logger

AsyncHandler = Callable[[str, str], Awaitable[Any]]


class ExpirationHandlerRegistry:
    """Maps ``"EXPTRIGGER:{action}:"`` prefixes to async ``handler(identifier, full_key)``."""

    def __init__(self, keys: KeyFactory | None = None) -> None:
        self.keys = keys if keys is not None else DEFAULT_KEYS
        self.handlers: dict[str, AsyncHandler] = {}

    def prefix(self, action_name: str) -> str:
        return f"{self.keys.trigger_prefix}:{action_name}:"

    def on_expire_action(self, action_name: str) -> Callable[[AsyncHandler], AsyncHandler]:
        """Decorator registering an async handler for ``action_name`` (replacing any
        earlier one); the function is returned unchanged."""
        if not isinstance(action_name, str) or not action_name:
            raise ValueError("action_name: expected a non-empty string")

        def decorator(fn: AsyncHandler) -> AsyncHandler:
            if not asyncio.iscoroutinefunction(fn):
                raise TypeError("handler must be an async function")
            prefix = self.prefix(action_name)
            if prefix in self.handlers:
                logger.warning("replacing the expiry handler for %r", action_name)
            self.handlers[prefix] = fn
            return fn

        return decorator

    def handler_for(self, action: str) -> AsyncHandler | None:
        return self.handlers.get(self.prefix(action))

    def resolve(self, expired_key: str) -> tuple[AsyncHandler, str] | None:
        """``(handler, identifier)`` for an expired trigger key, or None."""
        parsed = self.keys.parse_trigger(expired_key)
        if parsed is None:
            return None
        handler = self.handler_for(parsed[1])
        return (handler, parsed[2]) if handler is not None else None


expiration_registry = ExpirationHandlerRegistry()
