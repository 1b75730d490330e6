"""Which batch ids are already stored, so a retried batch is stored once."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

__all__ = ["BatchLedger", "MemoryLedger"]


class BatchLedger(Protocol):
    async def seen(self, batch_id: str) -> bool: ...

    async def remember(self, batch_id: str) -> None: ...


class MemoryLedger:
    """The most recent ``capacity`` ids, each forgotten after ``ttl`` seconds.

    Retries come within seconds or minutes of the first try, so a bounded
    window is enough and keeps memory flat.
    """

    def __init__(self, capacity: int = 200_000, ttl: float = 24 * 3600) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._ids: OrderedDict[str, float] = OrderedDict()

    async def seen(self, batch_id: str) -> bool:
        stored = self._ids.get(batch_id)
        if stored is None:
            return False
        if time.monotonic() - stored > self.ttl:
            del self._ids[batch_id]
            return False
        return True

    async def remember(self, batch_id: str) -> None:
        self._ids[batch_id] = time.monotonic()
        self._ids.move_to_end(batch_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
