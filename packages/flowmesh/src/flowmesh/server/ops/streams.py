"""Stream operations: write, read, subscribe, consumer groups, configuration."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass

from flowmesh.server import validation as v
from flowmesh.server.auth import Caller, guarded
from flowmesh.server.errors import NotFound
from flowmesh.server.ops.context import OpsContext, ns_to_ms
from flowmesh.server.ops.replay import ReplayOps
from flowmesh.server.ops.schemas import SchemaOps
from flowmesh.server.store.records import (
    Producer,
    Resource,
    StoredMessage,
    StreamConfig,
    stream_topic,
)

log = logging.getLogger("flowmesh.server")

DEFAULT_READ_MESSAGES = 10
DEFAULT_SUBSCRIBE_BATCH = 500
MAX_OFFSET = 2**62


def message_id(stream: Resource, partition: int, offset: int) -> str:
    """A stored message's id: stable (the same message always has it) and unique."""
    digest = hashlib.blake2b(f"{stream.path}\0{partition}\0{offset}".encode(), digest_size=12)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ReadResult:
    messages: list[StoredMessage]
    next_offset: int


@dataclass(frozen=True, slots=True)
class GroupState:
    stream: Resource
    group: str
    partition: int
    committed_offset: int
    latest_offset: int
    lag: int


class StreamOps:
    def __init__(self, ctx: OpsContext, schemas: SchemaOps, replay: ReplayOps) -> None:
        self.ctx = ctx
        self.schemas = schemas
        self.replay = replay

    def _partition(self, value: int) -> int:
        return v.in_range(value, "partition", 0, v.MAX_PARTITIONS - 1)

    def _byte_cap(self, max_bytes: int) -> int:
        cap = self.ctx.limits.max_response_bytes
        if max_bytes:
            v.in_range(max_bytes, "max_bytes", 1, 2**62)
            cap = min(cap, max_bytes)
        return cap

    async def write(
        self,
        caller: Caller,
        stream: Resource,
        events: Sequence[tuple[bytes, Mapping[str, str]]],
        partition: int | None = None,
        producer_id: str = "",
        producer_seq: int = 0,
    ) -> list[tuple[int, int]]:
        """Append events (to ``partition``, or by each one's ``key`` header); each
        one's (partition, offset). A batch with one bad event is refused whole. An
        idempotent producer's (id, seq) seen within the dedup window returns the
        first write's offsets and stores nothing."""
        caller.allow(stream, "stream:write")
        producer = None
        if v.producer_id(producer_id, producer_seq):
            producer = Producer(producer_id, producer_seq, self.ctx.dedup_window_ms)
        if not events:
            raise v.InvalidArgument("events", "must hold at least one event")
        v.in_range(len(events), "events", 1, v.MAX_WRITE_EVENTS)
        if partition is not None:
            self._partition(partition)
        checked: list[tuple[bytes, dict[str, str]]] = []
        for i, (payload, headers) in enumerate(events):
            v.payload(payload, f"events[{i}].payload", self.ctx.limits)
            checked.append((payload, v.headers(dict(headers), f"events[{i}].headers")))
        placed = await self.schemas.checked_write(
            "stream",
            stream,
            [p for p, _ in checked],
            lambda i: f"events[{i}].payload",
            lambda token: self.ctx.store.append(stream, checked, partition, token, producer),
        )
        self.ctx.changed("stream", stream.path, {"written": len(placed)})
        return placed

    async def read(
        self,
        caller: Caller,
        stream: Resource,
        partition: int = 0,
        offset: int = 0,
        max_messages: int = 0,
        start_time_ns: int = 0,
        max_bytes: int = 0,
    ) -> ReadResult:
        """Up to ``max_messages`` from ``offset`` (or from the first written at or after
        ``start_time_ns``), fewer when the next would pass the byte cap."""
        caller.allow(stream, "stream:read")
        partition = self._partition(partition)
        v.in_range(offset, "offset", 0, MAX_OFFSET)
        v.in_range(start_time_ns, "start_time", 0, 2**63 - 1)
        limit = v.in_range(max_messages or DEFAULT_READ_MESSAGES, "max_messages", 1,
                           v.MAX_READ_MESSAGES)  # fmt: skip
        cap = self._byte_cap(max_bytes)
        if start_time_ns:
            offset = await self.ctx.store.seek_time(stream, partition, ns_to_ms(start_time_ns))
        messages = await self.ctx.store.read(stream, partition, offset, limit, cap)
        return ReadResult(messages, messages[-1].offset + 1 if messages else offset)

    def subscribe(
        self,
        caller: Caller,
        stream: Resource,
        group: str,
        partition: int = 0,
        start_offset: int = -1,
        start_time_ns: int = 0,
        max_batch: int = 0,
    ) -> AsyncIterator[list[StoredMessage]]:
        """Batches of messages as they are written, forever (see ``_subscribe``);
        ends with Unauthenticated when the caller's token is revoked or expires."""
        return guarded(caller, self._subscribe(caller, stream, group, partition, start_offset,
                                               start_time_ns, max_batch))  # fmt: skip

    async def _subscribe(
        self,
        caller: Caller,
        stream: Resource,
        group: str,
        partition: int = 0,
        start_offset: int = -1,
        start_time_ns: int = 0,
        max_batch: int = 0,
    ) -> AsyncIterator[list[StoredMessage]]:
        """Batches of messages as they are written, forever. ``start_offset``: -2
        only new ones, -1 after the group's committed offset, N from N;
        ``start_time_ns`` (> 0) from the first written at or after it. A replay's
        sandbox group gets the session's range instead (see ReplayOps.deliver)."""
        caller.allow(stream, "stream:read")
        group = v.consumer_group(group)
        partition = self._partition(partition)
        v.in_range(start_offset, "start_offset", -2, MAX_OFFSET)
        v.in_range(start_time_ns, "start_time", 0, 2**63 - 1)
        batch = v.in_range(max_batch or DEFAULT_SUBSCRIBE_BATCH, "max_batch", 1,
                           v.MAX_READ_MESSAGES)  # fmt: skip
        cap = self.ctx.limits.max_response_bytes
        if group.startswith(v.SANDBOX_PREFIX):
            if start_time_ns:
                raise v.InvalidArgument("start_time", "a replay's sandbox group starts where "
                                        "its session does; use start_offset")  # fmt: skip
            async for found in self.replay.deliver(stream, group, partition, start_offset,
                                                   batch, cap):  # fmt: skip
                yield found
            return
        store = self.ctx.store
        if start_time_ns:
            position = await _or_default(
                store.seek_time(stream, partition, ns_to_ms(start_time_ns)), 0
            )
        elif start_offset >= 0:
            position = start_offset
        elif start_offset == -2:
            position = await _or_default(store.latest_offset(stream, partition), -1) + 1
        else:
            position = await _or_default(store.committed_offset(stream, group, partition), -1) + 1
        topic = stream_topic(stream, partition)
        notifier = store.notifier
        while True:
            wake = notifier.watch(topic)
            try:
                try:
                    found = await store.read(stream, partition, position, batch, cap)
                except NotFound:
                    found = []
                if found:
                    position = found[-1].offset + 1
                    self.ctx.metrics.delivered("stream", len(found))
                    yield found
                    continue
                await notifier.wait(wake, self.ctx.recheck_seconds)
            finally:
                notifier.unwatch(topic, wake)

    async def commit_offset(
        self, caller: Caller, stream: Resource, group: str, partition: int, offset: int
    ) -> None:
        caller.allow(stream, "stream:read")
        group = v.consumer_group(group)
        partition = self._partition(partition)
        v.in_range(offset, "offset", -1, MAX_OFFSET)
        await self.ctx.store.commit_offset(stream, group, partition, offset)

    async def committed_offset(
        self, caller: Caller, stream: Resource, group: str, partition: int
    ) -> int:
        caller.allow(stream, "stream:read")
        group = v.consumer_group(group)
        return await self.ctx.store.committed_offset(stream, group, self._partition(partition))

    async def latest_offset(self, caller: Caller, stream: Resource, partition: int) -> int:
        caller.allow(stream, "stream:read")
        return await self.ctx.store.latest_offset(stream, self._partition(partition))

    async def group_state(
        self, caller: Caller, stream: Resource, group: str, partition: int
    ) -> GroupState:
        caller.allow(stream, "stream:read")
        group = v.consumer_group(group)
        partition = self._partition(partition)
        latest = await self.ctx.store.latest_offset(stream, partition)
        committed = await self.ctx.store.committed_offset(stream, group, partition)
        lag = max(0, latest - committed)
        self.ctx.metrics.stream_lag(stream, group, partition, lag)
        return GroupState(stream, group, partition, committed, latest, lag)

    async def configure(
        self,
        caller: Caller,
        stream: Resource,
        partitions: int = 1,
        retention_max_messages: int = 0,
        retention_max_age_ms: int = 0,
    ) -> StreamConfig:
        caller.allow(stream, "stream:write")
        config = StreamConfig(
            partitions=v.in_range(partitions or 1, "partitions", 1, v.MAX_PARTITIONS),
            retention_max_messages=v.in_range(
                retention_max_messages, "retention_max_messages", 0, MAX_OFFSET
            ),
            retention_max_age_ms=v.in_range(
                retention_max_age_ms, "retention_max_age_ms", 0, MAX_OFFSET
            ),
        )
        return await self.ctx.store.configure_stream(stream, config)


async def _or_default(lookup: Awaitable[int], default: int) -> int:
    try:
        return await lookup
    except NotFound:
        return default
