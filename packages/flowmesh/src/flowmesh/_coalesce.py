"""Overlapping calls to one resource leave as one request.

A call goes out at once when none for its key is in flight, so a lone caller
waits for nothing. Calls made while one is in flight queue up and leave
together, as one batch request, when it returns. Every caller still gets its
own result or error, and only once its item is done on the server; batching
changes how many round trips there are, never what a returned call means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")

SendOne = Callable[[K, I], Awaitable[R]]
# One result or exception per item, in order; raises when the whole request failed.
SendMany = Callable[[K, list[I]], Awaitable[Sequence[R | Exception]]]


class Coalescer(Generic[K, I, R]):
    def __init__(
        self, send_one: SendOne[K, I, R], send_many: SendMany[K, I, R], max_batch: int
    ) -> None:
        self._send_one = send_one
        self._send_many = send_many
        self._max_batch = max_batch
        # key -> callers waiting behind the request in flight for that key
        self._lanes: dict[K, list[tuple[I, asyncio.Future[R]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, item: I) -> R:
        lane = self._lanes.get(key)
        if lane is not None:
            fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            lane.append((item, fut))
            return await fut
        self._lanes[key] = []
        try:
            return await self._send_one(key, item)
        finally:
            self._next(key)

    def _next(self, key: K) -> None:
        """The request for ``key`` returned: send what queued up meanwhile, if anything."""
        lane = self._lanes[key]
        waiting = [(item, fut) for item, fut in lane if not fut.done()]  # skip cancelled callers
        if not waiting:
            del self._lanes[key]
            return
        batch, self._lanes[key] = waiting[: self._max_batch], waiting[self._max_batch :]
        task = asyncio.get_running_loop().create_task(self._send(key, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, key: K, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            if len(batch) == 1:
                outcomes: Sequence[R | Exception] = [await self._send_one(key, batch[0][0])]
            else:
                outcomes = await self._send_many(key, [item for item, _ in batch])
        except Exception as exc:
            outcomes = [exc] * len(batch)
        except BaseException:  # cancelled: nobody will send the rest, so cancel them too
            for _, fut in batch + self._lanes.pop(key, []):
                fut.cancel()
            raise
        for (_, fut), outcome in zip(batch, outcomes, strict=True):
            if fut.done():
                continue
            if isinstance(outcome, Exception):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
        self._next(key)
