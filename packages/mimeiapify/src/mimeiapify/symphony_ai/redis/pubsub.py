"""Streaming over Redis pub/sub (alias ``pubsub``).

Per user of a tenant (``{tenant}:channel:{user_id}``): an agent publishes reply
chunks as JSON; the user's WebSocket handler iterates over them::

    channel = UserChannel(tenant, user_id)
    async with channel.subscription() as messages:   # subscribed before returning
        async for message in messages:
            await websocket.send_json(message)

1.4's functions on any channel name, encoded as hash fields are (text as itself,
JSON otherwise)::

    await publish_json("run:ae3f", {"delta": "Hel"})
    async for frame in subscribe("run:ae3f"):
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import DEFAULT_KEYS
from mimeiapify.utils.logger import logger


class Subscription:
    """An async iterator over decoded messages of one subscribed channel."""

    def __init__(self, pubsub: PubSub, poll_interval: float) -> None:
        self._pubsub = pubsub
        self._poll = poll_interval

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Any:
        while True:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self._poll
            )
            if message is not None and message.get("type") == "message":
                return serde.loads_json(message["data"])

    async def next(self, wait: float) -> Any:
        """The next message, or ``TimeoutError`` after ``wait`` seconds."""
        return await asyncio.wait_for(self.__anext__(), wait)


class UserChannel:
    """Publish/subscribe for one user of one tenant."""

    redis_alias = "pubsub"

    def __init__(self, tenant: str, user_id: str, *, redis: Redis | None = None) -> None:
        self.tenant = tenant
        self.user_id = user_id
        self.channel = DEFAULT_KEYS.channel(tenant, user_id)
        self._client = redis

    @property
    def redis(self) -> Redis:
        return self._client if self._client is not None else RedisClient.get(self.redis_alias)

    async def publish(self, message: Any) -> int:
        """Send a JSON message; returns how many subscribers received it."""
        return int(await self.redis.publish(self.channel, serde.dumps_json(message)))

    @asynccontextmanager
    async def subscription(self, poll_interval: float = 1.0) -> AsyncIterator[Subscription]:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel)
        try:
            yield Subscription(pubsub, poll_interval)
        finally:
            await pubsub.unsubscribe(self.channel)
            await pubsub.aclose()


async def publish_json(channel: str, obj: Any, *, alias: str = "pubsub") -> int:
    """Publish ``obj`` on ``channel``; returns how many subscribers received it."""
    return int(await RedisClient.get(alias).publish(channel, serde.dumps(obj)))


async def subscribe(
    channel: str,
    *,
    alias: str = "pubsub",
    max_queue: int | None = None,
    reconnect_delay: float = 5,
    poll_interval: float = 1.0,
) -> AsyncIterator[Any]:
    """Yield each message published on ``channel`` until the caller stops iterating;
    re-subscribes after ``reconnect_delay`` seconds when Redis goes away.

    Messages are read one at a time as the caller asks for them, so a slow
    consumer holds no queue here (``max_queue`` is accepted for 1.4's callers).
    """
    del max_queue
    while True:
        pubsub = RedisClient.get(alias).pubsub()
        try:
            await pubsub.subscribe(channel)
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=poll_interval
                )
                if message is not None and message.get("type") == "message":
                    yield serde.loads(message["data"])
        except (RedisError, OSError) as exc:
            logger.warning("pub/sub on %r lost Redis (%s); retrying in %ss", channel, exc,
                           reconnect_delay)  # fmt: skip
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        await asyncio.sleep(reconnect_delay)
