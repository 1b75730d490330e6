"""Which batch ids are already stored, so a retried batch is stored once."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

__all__ = ["BatchLedger", "LayeredLedger", "MemoryLedger"]


class BatchLedger(Protocol):
    """Per org, so one tenant can never mark another tenant's batch as stored."""

    async def seen(self, org: str, batch_id: str) -> bool: ...

    async def remember(self, org: str, batch_id: str) -> None: ...


class MemoryLedger:
    """The most recent ``capacity`` ids, each forgotten after ``ttl`` seconds.

    Retries come within seconds or minutes of the first try, so a bounded
    window is enough and keeps memory flat.
    """

    def __init__(self, capacity: int = 200_000, ttl: float = 24 * 3600) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._ids: OrderedDict[str, float] = OrderedDict()

    async def seen(self, org: str, batch_id: str) -> bool:
        key = f"{org}/{batch_id}"
        stored = self._ids.get(key)
        if stored is None:
            return False
        if time.monotonic() - stored > self.ttl:
            del self._ids[key]
            return False
        return True

    async def remember(self, org: str, batch_id: str) -> None:
        key = f"{org}/{batch_id}"
        self._ids[key] = time.monotonic()
        self._ids.move_to_end(key)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class LayeredLedger:
    """A local cache in front of a shared ledger: most retries reach the same receiver."""

    def __init__(self, local: BatchLedger, shared: BatchLedger) -> None:
        self.local = local
        self.shared = shared

    async def seen(self, org: str, batch_id: str) -> bool:
        return await self.local.seen(org, batch_id) or await self.shared.seen(org, batch_id)

    async def remember(self, org: str, batch_id: str) -> None:
        await self.shared.remember(org, batch_id)
        await self.local.remember(org, batch_id)
