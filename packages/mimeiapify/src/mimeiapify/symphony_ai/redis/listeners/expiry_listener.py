"""Expiration triggers that fire: key-expiry events dispatched to async handlers.

The listener turns on ``notify-keyspace-events`` (adding ``E`` and ``x`` to what
is already set; if the server forbids CONFIG SET it logs a warning and keeps
going, expecting the operator to have enabled them) and subscribes to
``__keyevent@<db>__:expired`` on the ``expiry`` alias. Each expired trigger key
(see :class:`RedisTrigger`) is claimed with SET NX first, so with several
processes listening each trigger runs once.

Two ways to register a handler, each called its own way:

* 1.4's: ``@expiration_registry.on_expire_action("remind")`` then
  ``await handler(identifier, full_key)``; start the listener with
  ``asyncio.create_task(run_expiry_listener(alias="expiry"))`` (as in 1.4) or let
  ``GlobalSymphonyConfig(enable_expiry_listener=True)`` run one.
* per listener: ``@listener.on("remind")`` then ``await handler(tenant, identifier)``;
  these take precedence over the registry for their action.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError, ResponseError

from mimeiapify.symphony_ai.redis.listeners.handler_registry import (
    ExpirationHandlerRegistry,
    expiration_registry,
)
from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import DEFAULT_KEYS, KeyFactory
from mimeiapify.utils.logger import logger

TriggerHandler = Callable[[str, str], Awaitable[Any]]
CLAIM_SECONDS = 300
RECONNECT_MIN = 0.2
RECONNECT_MAX = 5.0


async def ensure_expiry_notifications(client: Redis, wanted: str = "Ex") -> bool:
    """Make sure expiry key-events are published; False (with a warning) when not allowed."""
    try:
        reply = await client.config_get("notify-keyspace-events")
        current = str(reply.get("notify-keyspace-events") or "")
        have = set(current)
        if "A" in have:
            have |= set("g$lshzxet")
        missing = "".join(ch for ch in wanted if ch not in have)
        if missing:
            await client.config_set("notify-keyspace-events", current + missing)
        return True
    except ResponseError as exc:
        logger.warning(
            "cannot enable keyspace notifications (%s); expiration triggers fire only if the "
            "server already has notify-keyspace-events with 'Ex'",
            exc,
        )
        return False


class ExpirationListener:
    """Dispatches expired ``RedisTrigger`` keys to the handler registered for their action."""

    def __init__(
        self,
        notify_flags: str = "Ex",
        *,
        redis: Redis | None = None,
        alias: str = "expiry",
        registry: ExpirationHandlerRegistry | None = None,
        keys: KeyFactory | None = None,
    ) -> None:
        self.notify_flags = notify_flags
        self.alias = alias
        self.registry = registry if registry is not None else expiration_registry
        self.keys = keys if keys is not None else DEFAULT_KEYS
        self._client = redis
        self._handlers: dict[str, TriggerHandler] = {}
        self._task: asyncio.Task[None] | None = None
        self.reconnect_max = RECONNECT_MAX
        self._running: set[asyncio.Task[Any]] = set()
        self.notifications_enabled = False

    @property
    def redis(self) -> Redis:
        return self._client if self._client is not None else RedisClient.get(self.alias)

    def register(self, action: str, handler: TriggerHandler) -> None:
        """Call ``await handler(tenant, identifier)`` when a trigger of ``action`` expires."""
        if not callable(handler):
            raise TypeError("handler: expected an async callable")
        self._handlers[action] = handler

    def on(self, action: str) -> Callable[[TriggerHandler], TriggerHandler]:
        """Decorator form of :meth:`register`."""

        def decorate(handler: TriggerHandler) -> TriggerHandler:
            self.register(action, handler)
            return handler

        return decorate

    async def start(self) -> None:
        """Enable notifications and subscribe; raises if Redis cannot be reached now."""
        if self._task is not None:
            return
        pubsub = await self._subscribe()
        self._task = asyncio.create_task(self._listen(pubsub), name="symphony-expiry-listener")

    async def _subscribe(self) -> PubSub:
        client = self.redis
        self.notifications_enabled = await ensure_expiry_notifications(client, self.notify_flags)
        db = int(client.connection_pool.connection_kwargs.get("db", 0))
        pubsub = client.pubsub()
        try:
            await pubsub.psubscribe(f"__keyevent@{db}__:expired")
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def wait(self) -> None:
        """Return when the listener stops (it runs until :meth:`stop` or cancellation)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for running in list(self._running):
            running.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _listen(self, pubsub: PubSub | None) -> None:
        # A restarted Redis forgets both our subscription and (unless configured
        # on disk) notify-keyspace-events, so after an error we redo both.
        delay = RECONNECT_MIN
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = await self._subscribe()
                        logger.info("expiry listener re-subscribed")
                        delay = RECONNECT_MIN
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except (RedisError, OSError) as exc:
                    logger.warning("expiry listener lost Redis (%s); retrying in %.1fs", exc, delay)
                    if pubsub is not None:
                        with contextlib.suppress(Exception):
                            await pubsub.aclose()
                        pubsub = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.reconnect_max)
                    continue
                if message is not None and message.get("type") == "pmessage":
                    self._spawn(self._dispatch(message["data"]))
        finally:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _dispatch(self, key: str) -> None:
        parsed = self.keys.parse_trigger(key)
        if parsed is None:
            return
        tenant, action, identifier = parsed
        handler = self._handlers.get(action)
        legacy = self.registry.handler_for(action) if handler is None else None
        if handler is None and legacy is None:
            return
        claimed = await self.redis.set(self.keys.trigger_claim(key), "1", nx=True, ex=CLAIM_SECONDS)
        if not claimed:
            return  # another process handles this expiry
        try:
            if handler is not None:
                await handler(tenant, identifier)
            elif legacy is not None:
                await legacy(identifier, key)  # 1.4's calling convention
        except Exception:
            logger.exception(
                "trigger handler for %r failed (tenant %r, id %r)", action, tenant, identifier
            )


async def run_listener(
    *,
    alias: str = "expiry",
    reconnect_delay: float = 10,
    key_factory: KeyFactory | None = None,
    registry: ExpirationHandlerRegistry | None = None,
) -> None:
    """1.4's long-running listener: dispatch ``expiration_registry`` handlers for
    triggers expiring in ``alias``'s database until cancelled. Schedule it with
    ``asyncio.create_task(run_expiry_listener())``; it reconnects by itself (with
    backoff up to ``reconnect_delay`` seconds) when Redis goes away."""
    listener = ExpirationListener(alias=alias, keys=key_factory, registry=registry)
    listener.reconnect_max = max(RECONNECT_MIN, float(reconnect_delay))
    while True:
        try:
            await listener.start()
            break
        except (RedisError, OSError) as exc:
            logger.warning("expiry listener cannot reach Redis (%s); retrying", exc)
            await asyncio.sleep(listener.reconnect_max)
    try:
        await listener.wait()
    finally:
        await listener.stop()
