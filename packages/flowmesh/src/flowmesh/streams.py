"""``client.stream``: append-only partitioned streams with consumer groups."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import grpc

from flowmesh import _convert as cv
from flowmesh._part import Part, backoff, every_page
from flowmesh.exceptions import FlowMeshError, error_for_status, handle_grpc_error
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.types import ConsumerGroupState, Event, Message, StreamInfo, StreamPage

DEFAULT_SUBSCRIBE_BATCH = 500


class StreamClient(Part):
    @property
    def _stub(self) -> pb_grpc.StreamServiceStub:
        return self._client._stubs().stream

    async def write(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        events: Sequence[Event],
        partition: int | None = None,
    ) -> list[int]:
        """Append events (to ``partition``, or by each event's ``key`` header); their
        offsets. With a schema attached, a batch with one invalid event is refused
        whole (FlowMeshInvalidArgumentError naming the event and the JSON path)."""
        request = pb.WriteEventsRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            events=[pb.Event(payload=e.payload, headers=e.headers) for e in events],
        )
        if partition is not None:
            request.partition = partition
        request.producer_id = self._client.producer_id
        request.producer_seq = self._client._next_seq()
        response = await self._call(
            self._stub.WriteEvents, request, "stream.write", idempotent=True
        )
        return list(response.offsets)

    async def read(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        partition: int = 0,
        offset: int = 0,
        max_messages: int = 10,
        *,
        start_time: datetime | None = None,
    ) -> list[Message]:
        """Up to ``max_messages`` messages from ``offset`` (or from the first written at
        or after ``start_time``). The server returns fewer when more would pass its
        response size cap; read on from the last offset + 1."""
        request = pb.ReadStreamRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            partition=partition,
            offset=offset,
            max_messages=max_messages,
            start_time=cv.nanos(start_time, "start_time"),
        )
        response = await self._call(self._stub.ReadStream, request, "stream.read", idempotent=True)
        return [cv.message(m) for m in response.messages]

    async def subscribe(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        consumer_group: str,
        partition: int = 0,
        start_offset: int = -1,
        *,
        start_time: datetime | None = None,
        max_batch: int = DEFAULT_SUBSCRIBE_BATCH,
    ) -> AsyncIterator[Message]:
        """Yield messages as they are written, forever.

        ``start_offset``: -2 only new messages, -1 after the group's committed
        offset (from the beginning when none), N from offset N; ``start_time``
        starts at the first message written at or after it instead. Committing
        is up to the caller (:meth:`commit_offset`). Messages arrive up to
        ``max_batch`` per frame (0: one per frame, as published clients get
        them). After a dropped connection the subscription resumes right after
        the last message yielded, for as long as the client's ``retry_budget``
        allows the server to stay unreachable. For a replay's sandbox group it ends once the
        replay has delivered its whole range.
        """
        ref = cv.path(tenant, namespace, "stream", stream)
        position = start_offset
        since = cv.nanos(start_time, "start_time")
        lost_since: float | None = None  # when the connection dropped, while it is down
        reconnects = 0
        while True:
            call = self._stub.Subscribe(
                pb.SubscribeRequest(
                    resource_path=ref,
                    consumer_group=consumer_group,
                    partition=partition,
                    start_offset=position,
                    max_batch=max_batch,
                    start_time=since,
                ),
                metadata=self._client._metadata,
                wait_for_ready=True,
            )
            try:
                failed: FlowMeshError | None = None
                await call.wait_for_connection()  # the server took it: not down any more
                lost_since = None
                async for frame in call:
                    if frame.status.code:  # the server's error frame; the call ends with it
                        failed = error_for_status(
                            frame.status.code, frame.status.message, "stream.subscribe"
                        )
                        break
                    batch = frame.messages or ([frame.message] if frame.HasField("message") else [])
                    for m in batch:
                        position, since = m.offset + 1, 0
                        yield cv.message(m)
                if failed is None:
                    return  # the server ended it: a replay delivered everything
            except grpc.aio.AioRpcError as exc:
                failed = handle_grpc_error(exc, "stream.subscribe")
            finally:
                call.cancel()
            # UNAVAILABLE (a server or store restart): resubscribe from the next
            # offset while the outage is shorter than the retry budget.
            now = time.monotonic()
            lost_since = now if lost_since is None else lost_since
            if failed.code != grpc.StatusCode.UNAVAILABLE or (
                now - lost_since >= self._client.retry_budget
            ):
                raise failed
            reconnects += 1
            await asyncio.sleep(backoff(reconnects))

    async def commit_offset(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        consumer_group: str,
        partition: int,
        offset: int,
    ) -> None:
        """Record that the group has processed ``offset`` (and everything before it)."""
        request = pb.CommitOffsetRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            consumer_group=consumer_group,
            partition=partition,
            offset=offset,
        )
        await self._call(self._stub.CommitOffset, request, "stream.commit_offset", idempotent=True)

    async def get_offset(
        self, tenant: str, namespace: str, stream: str, consumer_group: str, partition: int = 0
    ) -> int:
        """The group's committed offset (-1 when it has committed none)."""
        request = pb.GetOffsetRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            consumer_group=consumer_group,
            partition=partition,
        )
        response = await self._call(
            self._stub.GetOffset, request, "stream.get_offset", idempotent=True
        )
        return int(response.offset)

    async def get_latest_offset(
        self, tenant: str, namespace: str, stream: str, partition: int = 0
    ) -> int:
        """Offset of the newest message in the partition (-1 when it is empty)."""
        request = pb.GetLatestOffsetRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream), partition=partition
        )
        response = await self._call(
            self._stub.GetLatestOffset, request, "stream.get_latest_offset", idempotent=True
        )
        return int(response.offset)

    async def get_consumer_group_state(
        self, tenant: str, namespace: str, stream: str, consumer_group: str, partition: int = 0
    ) -> ConsumerGroupState:
        request = pb.GetConsumerGroupStateRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            consumer_group=consumer_group,
            partition=partition,
        )
        response = await self._call(
            self._stub.GetConsumerGroupState, request, "stream.get_consumer_group_state",
            idempotent=True,
        )  # fmt: skip
        return cv.group_state(response.state)

    async def list_consumer_groups(
        self, tenant: str, namespace: str, stream: str
    ) -> builtins.list[ConsumerGroupState]:
        """The stream's consumer groups by name, one state per partition each group
        committed on, with its lag. An extension of this server."""
        request = pb.ListConsumerGroupsRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream)
        )
        response = await self._call(
            self._stub.ListConsumerGroups, request, "stream.list_groups", idempotent=True
        )
        return [cv.group_state(s) for s in response.groups]

    async def configure(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        partitions: int = 1,
        retention_max_messages: int = 0,
        retention_max_age: cv.Duration | None = None,
    ) -> None:
        """Set the partition count (it can only grow) and retention (0 / None: keep all)."""
        request = pb.ConfigureStreamRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            config=pb.StreamConfig(
                partitions=partitions,
                retention_max_messages=retention_max_messages,
                retention_max_age_ms=cv.millis(retention_max_age, "retention_max_age") or 0,
            ),
        )
        await self._call(self._stub.ConfigureStream, request, "stream.configure", idempotent=True)

    async def list_page(
        self, tenant: str = "", namespace: str = "", page_size: int = 100, page_token: str = ""
    ) -> StreamPage:
        """One page (at most ``page_size``, up to 1000) of the streams this token
        may read (of ``tenant``/``namespace`` when given), by path, with their
        partitions and latest offsets, from where ``page_token`` (a previous
        page's ``next_page_token``) left off. An extension of this server."""
        request = pb.ListStreamsRequest(
            filter=cv.filter_of(tenant, namespace), page_size=page_size, page_token=page_token
        )
        response = await self._call(self._stub.ListStreams, request, "stream.list", idempotent=True)
        return StreamPage(
            streams=[cv.stream_info(i) for i in response.streams],
            next_page_token=response.next_page_token,
        )

    async def list(
        self, tenant: str = "", namespace: str = "", page_size: int = 1000
    ) -> builtins.list[StreamInfo]:
        """Every stream this token may read (all pages; see :meth:`list_page`)."""
        return await every_page(
            lambda token: self.list_page(tenant, namespace, page_size, token),
            lambda page: page.streams,
        )
