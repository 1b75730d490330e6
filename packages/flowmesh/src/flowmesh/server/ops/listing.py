"""Listings of streams, queues and KV stores with their statistics (additions:
the published protocol has no listing calls; its HTTP API lists without stats)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flowmesh.server import paging
from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import NotFound
from flowmesh.server.ops.context import OpsContext
from flowmesh.server.ops.streams import GroupState
from flowmesh.server.store.records import QueueStats, Resource, StreamConfig

T = TypeVar("T")

# A listing reads its resources' statistics this many at a time.
_CONCURRENCY = 32
# A page holds at most this many resources (page_size 0: every one at once).
MAX_PAGE_SIZE = 1000
# Pages read names from the store at least this many at a time (a caller that
# may see only some of them needs more than one page's worth to fill a page).
_MIN_BATCH = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str  # "" on the last page


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

    async def _visible_page(
        self,
        caller: Caller,
        kind: str,
        tenant: str,
        namespace: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Resource], str]:
        """The next ``page_size`` resources the caller may read after
        ``page_token``, by path, and the token of the page after ("" when none)."""
        page_size = v.in_range(page_size, "page_size", 0, MAX_PAGE_SIZE)
        after = paging.resource_after(page_token)
        if page_size == 0:
            everything = await self._visible(caller, kind, tenant, namespace)
            return [r for r in everything if r.path > after], ""
        if tenant:
            v.name(tenant, "tenant")
        if namespace:
            v.name(namespace, "namespace")
        prefix = (
            f"{tenant}/{namespace}/" if tenant and namespace else f"{tenant}/" if tenant else ""
        )
        want = page_size + 1  # one more tells whether a next page exists
        batch = max(want, _MIN_BATCH)
        out: list[Resource] = []
        while len(out) < want:
            found = await self.ctx.store.list_resources_page(kind, prefix, after, batch)
            for r in found:
                if (not namespace or r.namespace == namespace) and caller.sees(
                    r.tenant, r.namespace, f"{kind}:read"
                ):
                    out.append(r)
                    if len(out) == want:
                        break
            if len(found) < batch:
                break
            after = found[-1].path
        if len(out) <= page_size:
            return out, ""
        return out[:page_size], paging.resource_token(out[page_size - 1].path)  # fmt: skip

    async def streams(
        self, caller: Caller, tenant: str = "", namespace: str = ""
    ) -> list[StreamInfo]:
        return (await self.streams_page(caller, tenant, namespace)).items

    async def streams_page(
        self, caller: Caller, tenant: str = "", namespace: str = "",
        page_size: int = 0, page_token: str = "",
    ) -> Page[StreamInfo]:  # fmt: skip
        store = self.ctx.store

        async def info(res: Resource) -> StreamInfo | None:
            try:
                config = await store.stream_config(res)
                offsets = [await store.latest_offset(res, p) for p in range(config.partitions)]
            except NotFound:  # deleted meanwhile
                return None
            return StreamInfo(res, config, offsets)

        found, token = await self._visible_page(
            caller, "stream", tenant, namespace, page_size, page_token
        )
        return Page(await _gather(info, found), token)

    async def queues(
        self, caller: Caller, tenant: str = "", namespace: str = ""
    ) -> list[QueueInfo]:
        return (await self.queues_page(caller, tenant, namespace)).items

    async def queues_page(
        self, caller: Caller, tenant: str = "", namespace: str = "",
        page_size: int = 0, page_token: str = "",
    ) -> Page[QueueInfo]:  # fmt: skip
        async def info(res: Resource) -> QueueInfo | None:
            try:
                return QueueInfo(res, await self.ctx.store.queue_stats(res))
            except NotFound:
                return None

        found, token = await self._visible_page(
            caller, "queue", tenant, namespace, page_size, page_token
        )
        return Page(await _gather(info, found), token)

    async def kv_stores(
        self, caller: Caller, tenant: str = "", namespace: str = ""
    ) -> list[KVStoreInfo]:
        return (await self.kv_stores_page(caller, tenant, namespace)).items

    async def kv_stores_page(
        self, caller: Caller, tenant: str = "", namespace: str = "",
        page_size: int = 0, page_token: str = "",
    ) -> Page[KVStoreInfo]:  # fmt: skip
        async def info(res: Resource) -> KVStoreInfo | None:
            try:
                return KVStoreInfo(res, await self.ctx.store.kv_count(res))
            except NotFound:
                return None

        found, token = await self._visible_page(
            caller, "kv", tenant, namespace, page_size, page_token
        )
        return Page(await _gather(info, found), token)

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
