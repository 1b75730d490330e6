"""Wake-ups inside one server process: "something was written to topic T".

A waiter registers *before* it looks at the store, so a write that lands
between the look and the wait still wakes it. Stores call :meth:`notify`
after a commit (the Redis store also relays other servers' writes). Stream
writes wake every subscriber; a new job wakes one waiting worker (the oldest),
so ten idle workers do not all race for it.
"""

from __future__ import annotations

import asyncio


class Notifier:
    def __init__(self) -> None:
        # topic -> waiters in arrival order (a dict is an ordered set)
        self._waiters: dict[str, dict[asyncio.Future[None], None]] = {}

    def watch(self, topic: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(topic, {})[fut] = None
        return fut

    def unwatch(self, topic: str, fut: asyncio.Future[None]) -> None:
        waiters = self._waiters.get(topic)
        if waiters is not None:
            waiters.pop(fut, None)
            if not waiters:
                del self._waiters[topic]
        if not fut.done():
            fut.cancel()

    def notify(self, topic: str, limit: int | None = None) -> None:
        """Wake every waiter on ``topic``, or the ``limit`` oldest still waiting."""
        waiters = self._waiters.get(topic)
        if not waiters:
            return
        woken = 0
        for fut in list(waiters):
            del waiters[fut]
            if not fut.done():
                fut.set_result(None)
                woken += 1
                if limit is not None and woken >= limit:
                    break
        if not waiters:
            self._waiters.pop(topic, None)

    async def wait(self, fut: asyncio.Future[None], seconds: float) -> bool:
        """Wait for a watched topic; False on timeout."""
        try:
            await asyncio.wait_for(asyncio.shield(fut), seconds)
        except TimeoutError:
            return False
        return True
