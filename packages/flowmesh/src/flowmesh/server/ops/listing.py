"""Listings of streams, queues and KV stores with their statistics (additions:
the published protocol has no listing calls; its HTTP API lists without stats)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import NotFound
from flowmesh.server.ops.context import OpsContext
from flowmesh.server.ops.streams import GroupState
from flowmesh.server.store.records import QueueStats, Resource, StreamConfig

T = TypeVar("T")

# A listing reads its resources' statistics this many at a time.
_CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class StreamInfo:
    resource: Resource
    config: StreamConfig
    latest_offsets: list[int]  # per partition, -1 when empty

    @property
    def messages(self) -> int:
        """Messages ever written (offsets are never reused; retention may have
        dropped the oldest)."""
        return sum(o + 1 for o in self.latest_offsets)


@dataclass(frozen=True, slots=True)
class QueueInfo:
    resource: Resource
    stats: QueueStats


@dataclass(frozen=True, slots=True)
class KVStoreInfo:
    resource: Resource
    keys: int


class ListingOps:
    def __init__(self, ctx: OpsContext) -> None:
        self.ctx = ctx

    async def _visible(
        self, caller: Caller, kind: str, tenant: str, namespace: str
    ) -> list[Resource]:
        if tenant:
            v.name(tenant, "tenant")
        if namespace:
            v.name(namespace, "namespace")
        found = await self.ctx.store.list_resources(kind)
        return [
            r for r in found
            if (not tenant or r.tenant == tenant) and (not namespace or r.namespace == namespace)
            and caller.sees(r.tenant, r.namespace, f"{kind}:read")
        ]  # fmt: skip

    async def streams(
        self, caller: Caller, tenant: str = "", namespace: str = ""
    ) -> list[StreamInfo]:
        store = self.ctx.store

        async def info(res: Resource) -> StreamInfo | None:
            try:
                config = await store.stream_config(res)
                offsets = [await store.latest_offset(res, p) for p in range(config.partitions)]
            except NotFound:  # deleted meanwhile
                return None
            return StreamInfo(res, config, offsets)

        return await _gather(info, await self._visible(caller, "stream", tenant, namespace))

    async def queues(
        self, caller: Caller, tenant: str = "", namespace: str = ""
    ) -> list[QueueInfo]:
        async def info(res: Resource) -> QueueInfo | None:
            try:
                return QueueInfo(res, await self.ctx.store.queue_stats(res))
            except NotFound:
                return None

        return await _gather(info, await self._visible(caller, "queue", tenant, namespace))

    async def kv_stores(
        self, caller: Caller, tenant: str = "", namespace: str = ""
    ) -> list[KVStoreInfo]:
        async def info(res: Resource) -> KVStoreInfo | None:
            try:
                return KVStoreInfo(res, await self.ctx.store.kv_count(res))
            except NotFound:
                return None

        return await _gather(info, await self._visible(caller, "kv", tenant, namespace))

    async def groups(self, caller: Caller, stream: Resource) -> list[GroupState]:
        """The stream's consumer groups, one entry per partition each committed on."""
        caller.allow(stream, "stream:read")
        store = self.ctx.store
        latest: dict[int, int] = {}
        out: list[GroupState] = []
        for group, partition, committed in await store.list_groups(stream):
            if partition not in latest:
                latest[partition] = await store.latest_offset(stream, partition)
            lag = max(0, latest[partition] - committed)
            out.append(GroupState(stream, group, partition, committed, latest[partition], lag))
        return out

    async def stream(self, caller: Caller, stream: Resource) -> StreamInfo:
        """One stream's statistics (NotFound when it does not exist)."""
        caller.allow(stream, "stream:read")
        config = await self.ctx.store.stream_config(stream)
        offsets = [await self.ctx.store.latest_offset(stream, p) for p in range(config.partitions)]
        return StreamInfo(stream, config, offsets)


async def _gather(
    fetch: Callable[[Resource], Awaitable[T | None]], items: list[Resource]
) -> list[T]:
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(res: Resource) -> T | None:
        async with limit:
            return await fetch(res)

    found = await asyncio.gather(*(one(r) for r in items))
    return [f for f in found if f is not None]
