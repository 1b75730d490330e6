"""Streaming to a user over Redis pub/sub (``{tenant}:channel:{user_id}``).

An agent publishes reply chunks as JSON; the user's WebSocket handler iterates
over them::

    channel = UserChannel(tenant, user_id)
    async with channel.subscription() as messages:   # subscribed before returning
        async for message in messages:
            await websocket.send_json(message)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from mimeiapify.symphony_ai.redis.redis_client import RedisClient
from mimeiapify.symphony_ai.redis.redis_handler.utils import serde
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory


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
        self.channel = KeyFactory.channel(KeyFactory.tenant(tenant), user_id)
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
