"""Replay sessions: re-deliver a range of a stream partition to a sandbox group.

A session names a range (by offset or by time; times are found through the
store's time index) and a sandbox consumer group (``_replay_...``). While the
session is active, subscribers of that group receive the range: each batch a
subscriber takes moves the session's cursor forward with a compare-and-set,
so progress counts what was really delivered, competing subscribers share
the range without overlap, and several servers on one Redis agree. Paused:
nothing is released; stopped or completed: a subscription ends once it has
everything released. Everything lives in the store, so sessions (and their
progress) survive a restart, and a subscriber that reconnects with
``start_offset=-1`` gets again what it had not committed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import FailedPrecondition, InvalidArgument, NotFound
from flowmesh.server.ops.context import OpsContext, now_ms, ns_to_ms
from flowmesh.server.store.records import ReplayRecord, Resource, StoredMessage, replay_topic

STATUSES = ("created", "active", "paused", "stopped", "completed", "error")
MAX_RATE = 1_000_000
_UPDATE_TRIES = 20


def _iso(nanos: int) -> str:
    return datetime.fromtimestamp(nanos / 1e9, UTC).isoformat(timespec="milliseconds")


class ReplayOps:
    def __init__(self, ctx: OpsContext) -> None:
        self.ctx = ctx

    async def create(
        self,
        caller: Caller,
        stream: Resource,
        sandbox_group: str,
        partition: int = 0,
        start_offset: int = -1,
        start_time_ns: int = 0,
        end_offset: int = -1,
        end_time_ns: int = 0,
        max_rate: int = 0,
    ) -> ReplayRecord:
        """A new session (status "created") over a non-empty, already written range."""
        caller.allow(stream, "admin")
        group = v.sandbox_group(sandbox_group)
        partition = v.in_range(partition, "partition", 0, v.MAX_PARTITIONS - 1)
        rate = v.in_range(max_rate, "max_messages_per_second", 0, MAX_RATE)
        v.in_range(start_time_ns, "start_timestamp", 0, 2**63 - 1)
        v.in_range(end_time_ns, "end_timestamp", 0, 2**63 - 1)
        store = self.ctx.store
        latest = await store.latest_offset(stream, partition)  # NotFound: no such stream
        now = now_ms()
        if start_time_ns:
            if start_time_ns > now * 1_000_000:
                raise InvalidArgument("start_timestamp", f"{_iso(start_time_ns)} is in the future; "
                                      "a replay covers messages already written")  # fmt: skip
            start = await store.seek_time(stream, partition, ns_to_ms(start_time_ns))
            if start > latest:
                raise InvalidArgument(
                    "start_timestamp", f"no message of partition {partition} was written at or "
                    f"after {_iso(start_time_ns)}; the range holds no messages",
                )  # fmt: skip
        elif start_offset >= 0:
            start = start_offset
            if start > latest:
                raise InvalidArgument(
                    "start_offset", f"{start} is past the last offset ({latest}) of partition "
                    f"{partition}; the range holds no messages",
                )  # fmt: skip
        else:
            raise InvalidArgument("start_offset", "must be >= 0 (or give start_timestamp)")
        if end_time_ns:
            if end_time_ns < start_time_ns:
                raise InvalidArgument("end_timestamp", "is before start_timestamp")
            end = await store.seek_time(stream, partition, ns_to_ms(end_time_ns) + 1) - 1
            if end < start:
                raise InvalidArgument(
                    "end_timestamp", f"no message of partition {partition} was written between "
                    f"the start and {_iso(end_time_ns)}; the range holds no messages",
                )  # fmt: skip
        elif end_offset >= 0:
            if end_offset < start:
                raise InvalidArgument("end_offset", f"{end_offset} is before the start ({start})")
            end = min(end_offset, latest)
        else:
            end = latest
        first = await store.read(stream, partition, start, 1, 1)
        if not first or first[0].offset > end:
            raise InvalidArgument(
                "start_offset", f"offsets {start}-{end} are no longer stored (retention); "
                "the range holds no messages",
            )  # fmt: skip
        record = ReplayRecord(
            session_id=uuid.uuid4().hex,
            tenant=stream.tenant,
            namespace=stream.namespace,
            stream=stream.name,
            partition=partition,
            sandbox_group=group,
            start_offset=start,
            end_offset=end,
            start_time_ms=ns_to_ms(start_time_ns),
            end_time_ms=ns_to_ms(end_time_ns),
            max_rate=rate,
            cursor=start,
            created_at_ms=now,
            updated_at_ms=now,
        )
        await store.replay_create(record)
        return record

    async def get(self, caller: Caller, session_id: str) -> ReplayRecord:
        v.name(session_id, "session_id")
        record = await self.ctx.store.replay_get(session_id)
        if record is None:
            raise NotFound(f"session_id: replay session {session_id!r} does not exist")
        caller.allow(record.resource, "admin")
        return record

    async def list_sessions(
        self, caller: Caller, stream: Resource | None = None
    ) -> list[ReplayRecord]:
        if stream is not None:
            caller.allow(stream, "admin")
        return [
            r for r in await self.ctx.store.replay_list()
            if caller.sees(r.tenant, r.namespace, "admin")
            and (stream is None or r.resource == stream)
        ]  # fmt: skip

    async def start(self, caller: Caller, session_id: str) -> ReplayRecord:
        return await self._move(caller, session_id, ("created", "paused"), "active", "start")

    async def pause(self, caller: Caller, session_id: str) -> ReplayRecord:
        return await self._move(caller, session_id, ("active",), "paused", "pause")

    async def resume(self, caller: Caller, session_id: str) -> ReplayRecord:
        return await self._move(caller, session_id, ("paused",), "active", "resume")

    async def stop(self, caller: Caller, session_id: str) -> ReplayRecord:
        return await self._move(caller, session_id, ("created", "active", "paused"), "stopped",
                                "stop")  # fmt: skip

    async def delete(self, caller: Caller, session_id: str) -> None:
        await self.get(caller, session_id)
        if not await self.ctx.store.replay_delete(session_id):
            raise NotFound(f"session_id: replay session {session_id!r} does not exist")

    async def _move(
        self, caller: Caller, session_id: str, allowed: tuple[str, ...], to: str, verb: str
    ) -> ReplayRecord:
        for _ in range(_UPDATE_TRIES):
            record = await self.get(caller, session_id)
            if record.status not in allowed:
                raise FailedPrecondition(
                    f"session_id: replay session {session_id!r} is {record.status}; "
                    f"{verb} needs a {' or '.join(allowed)} session"
                )
            now = now_ms()
            record.status = to
            record.updated_at_ms = now
            if to == "active":
                record.started_at_ms = record.started_at_ms or now
                record.paused_at_ms = 0
            elif to == "paused":
                record.paused_at_ms = now
            if await self.ctx.store.replay_update(record):
                return record
        raise FailedPrecondition(f"session_id: replay session {session_id!r} kept changing; "
                                 "try again")  # fmt: skip

    async def deliver(
        self,
        stream: Resource,
        group: str,
        partition: int,
        start_offset: int,
        batch: int,
        max_bytes: int,
    ) -> AsyncIterator[list[StoredMessage]]:
        """What a subscriber of a sandbox group receives: first whatever the session
        released past ``start_offset`` (-1: after the group's commit; -2: nothing
        old), then each batch it claims while the session is active."""
        store = self.ctx.store
        record = await store.replay_find(stream, group)
        if record is None:
            raise NotFound(f"consumer_group: no replay session delivers to {group!r} "
                           f"on stream {stream.path!r}")  # fmt: skip
        if record.partition != partition:
            raise InvalidArgument("partition", f"replay session {record.session_id} replays "
                                  f"partition {record.partition}")  # fmt: skip
        if start_offset >= 0:
            position = max(start_offset, record.start_offset)
        elif start_offset == -2:
            position = record.cursor
        else:
            committed = await store.committed_offset(stream, group, partition)
            position = max(committed + 1, record.start_offset)
        topic = replay_topic(record.session_id)
        notifier = store.notifier
        while True:
            wake = notifier.watch(topic)
            try:
                current = await store.replay_get(record.session_id)
                if current is None:
                    return  # deleted
                record = current
                if position < record.cursor:  # released before: deliver again
                    count = min(batch, record.cursor - position)
                    found = await store.read(stream, partition, position, count, max_bytes)
                    found = [m for m in found if m.offset < record.cursor]
                    position = found[-1].offset + 1 if found else record.cursor
                    if found:
                        yield found
                    continue
                if record.status == "active" and record.cursor <= record.end_offset:
                    wait_ms = record.next_release_ms - now_ms() if record.max_rate else 0
                    if wait_ms > 0:
                        await notifier.wait(wake, wait_ms / 1000)
                        continue
                    claimed = await self._claim(record, batch, max_bytes)
                    if claimed:
                        position = claimed[-1].offset + 1
                        self.ctx.metrics.delivered("replay", len(claimed))
                        yield claimed
                    continue
                if record.status not in ("created", "active", "paused"):
                    return  # stopped, completed or failed, and everything released delivered
                await notifier.wait(wake, self.ctx.recheck_seconds)
            finally:
                notifier.unwatch(topic, wake)

    async def _claim(
        self, record: ReplayRecord, batch: int, max_bytes: int
    ) -> list[StoredMessage] | None:
        """Release the next messages of the range to the caller (None: another
        subscriber moved the cursor first; [] when the rest was no longer stored)."""
        count = min(batch, record.end_offset - record.cursor + 1)
        if record.max_rate:
            count = min(count, max(1, record.max_rate // 10))
        found = await self.ctx.store.read(
            record.resource, record.partition, record.cursor, count, max_bytes
        )
        found = [m for m in found if m.offset <= record.end_offset]
        # Offsets dropped by retention before the replay reached them are errors.
        new_cursor = found[-1].offset + 1 if found else record.end_offset + 1
        missing = (found[0].offset if found else new_cursor) - record.cursor
        now = now_ms()
        record.cursor = new_cursor
        record.replayed += len(found)
        record.errors += missing
        record.updated_at_ms = now
        if record.max_rate:
            record.next_release_ms = now + math.ceil(len(found) * 1000 / record.max_rate)
        if new_cursor > record.end_offset:
            record.status = "completed"
            record.completed_at_ms = now
        if not await self.ctx.store.replay_update(record):
            return None
        return found
