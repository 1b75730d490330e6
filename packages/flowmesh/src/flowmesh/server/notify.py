"""Wake-ups inside one server process: "something was written to topic T".

A waiter registers *before* it looks at the store, so a write that lands
between the look and the wait still wakes it. Stores call :meth:`notify`
after a commit (the Redis store also relays other servers' writes).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Notifier:
    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)

    def watch(self, topic: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[topic].add(fut)
        return fut

    def unwatch(self, topic: str, fut: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(topic)
        if waiters is not None:
            waiters.discard(fut)
            if not waiters:
                del self._waiters[topic]
        if not fut.done():
            fut.cancel()

    def notify(self, topic: str) -> None:
        waiters = self._waiters.pop(topic, None)
        if not waiters:
            return
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def has_watchers(self, topic: str) -> bool:
        return topic in self._waiters

    async def wait(self, fut: asyncio.Future[None], seconds: float) -> bool:
        """Wait for a watched topic; False on timeout."""
        try:
            await asyncio.wait_for(asyncio.shield(fut), seconds)
        except TimeoutError:
            return False
        return True
