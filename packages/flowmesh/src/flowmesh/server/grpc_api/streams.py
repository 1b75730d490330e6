"""StreamService: published RPCs plus ConfigureStream, over StreamOps."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.grpc_api.base import NS_PER_MS, ok, status_of
from flowmesh.server.grpc_api.listing import StreamListing, group_state_pb
from flowmesh.server.ops import message_id
from flowmesh.server.store.records import Resource, StoredMessage

_STREAM = ("stream",)


def messages(stream: Resource, found: list[StoredMessage]) -> list[pb.Message]:
    path = stream.typed_path("stream")
    return [
        pb.Message(
            id=message_id(stream, m.partition, m.offset),
            resource_path=path,
            partition=m.partition,
            offset=m.offset,
            payload=m.payload,
            headers=m.headers,
            created_at=m.timestamp_ms * NS_PER_MS,
            schema_version=m.schema_version,
        )
        for m in found
    ]


class StreamService(StreamListing, pb_grpc.StreamServiceServicer):
    async def WriteEvents(
        self, request: pb.WriteEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.WriteEventsResponse:
        async def body() -> pb.WriteEventsResponse:
            stream = self.resource(request, *_STREAM)
            placed = await self.ops.streams.write(
                self.caller(context),
                stream,
                [(e.payload, e.headers) for e in request.events],
                request.partition if request.HasField("partition") else None,
                request.producer_id,
                request.producer_seq,
            )
            return pb.WriteEventsResponse(
                status=ok(), offsets=[o for _, o in placed], partitions=[p for p, _ in placed]
            )

        return await self.call("stream.write", context, body)

    async def ReadStream(
        self, request: pb.ReadStreamRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReadStreamResponse:
        async def body() -> pb.ReadStreamResponse:
            stream = self.resource(request, *_STREAM)
            got = await self.ops.streams.read(
                self.caller(context), stream, request.partition, request.offset,
                request.max_messages, request.start_time, request.max_bytes,
            )  # fmt: skip
            return pb.ReadStreamResponse(
                status=ok(), messages=messages(stream, got.messages), next_offset=got.next_offset
            )

        return await self.call("stream.read", context, body)

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeResponse]:
        """One message per frame, or batches of up to ``max_batch`` when asked. A
        failure is sent as a frame with its status, then ends the call with it."""
        began = time.perf_counter()
        try:
            # Headers at once, so a client knows it is subscribed before any message.
            await context.send_initial_metadata(())
            stream = self.resource(request, *_STREAM)
            batches = self.ops.streams.subscribe(
                self.caller(context), stream, request.consumer_group, request.partition,
                request.start_offset, request.start_time, request.max_batch,
            )  # fmt: skip
            batched = request.max_batch > 0
            async for found in batches:
                frames = messages(stream, found)
                if batched:
                    yield pb.SubscribeResponse(messages=frames)
                else:
                    for frame in frames:
                        yield pb.SubscribeResponse(message=frame)
        except Exception as exc:
            code, detail = status_of("stream.subscribe", exc)
        else:  # a replay's sandbox group received its whole range
            self.metrics.observe("stream.subscribe", "OK", time.perf_counter() - began)
            return
        self.metrics.observe("stream.subscribe", code.name, time.perf_counter() - began)
        yield pb.SubscribeResponse(status=pb.Status(code=code.value[0], message=detail))
        await context.abort(code, detail)

    async def CommitOffset(
        self, request: pb.CommitOffsetRequest, context: grpc.aio.ServicerContext
    ) -> pb.CommitOffsetResponse:
        async def body() -> pb.CommitOffsetResponse:
            await self.ops.streams.commit_offset(
                self.caller(context), self.resource(request, *_STREAM), request.consumer_group,
                request.partition, request.offset,
            )  # fmt: skip
            return pb.CommitOffsetResponse(status=ok())

        return await self.call("stream.commit_offset", context, body)

    async def GetOffset(
        self, request: pb.GetOffsetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOffsetResponse:
        async def body() -> pb.GetOffsetResponse:
            offset = await self.ops.streams.committed_offset(
                self.caller(context), self.resource(request, *_STREAM), request.consumer_group,
                request.partition,
            )  # fmt: skip
            return pb.GetOffsetResponse(status=ok(), offset=offset)

        return await self.call("stream.get_offset", context, body)

    async def GetLatestOffset(
        self, request: pb.GetLatestOffsetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLatestOffsetResponse:
        async def body() -> pb.GetLatestOffsetResponse:
            offset = await self.ops.streams.latest_offset(
                self.caller(context), self.resource(request, *_STREAM), request.partition
            )
            return pb.GetLatestOffsetResponse(status=ok(), offset=offset)

        return await self.call("stream.get_latest_offset", context, body)

    async def GetConsumerGroupState(
        self, request: pb.GetConsumerGroupStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetConsumerGroupStateResponse:
        async def body() -> pb.GetConsumerGroupStateResponse:
            s = await self.ops.streams.group_state(
                self.caller(context), self.resource(request, *_STREAM), request.consumer_group,
                request.partition,
            )  # fmt: skip
            return pb.GetConsumerGroupStateResponse(status=ok(), state=group_state_pb(s))

        return await self.call("stream.get_consumer_group_state", context, body)

    async def ConfigureStream(
        self, request: pb.ConfigureStreamRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfigureStreamResponse:
        async def body() -> pb.ConfigureStreamResponse:
            c = request.config
            saved = await self.ops.streams.configure(
                self.caller(context), self.resource(request, *_STREAM), c.partitions,
                c.retention_max_messages, c.retention_max_age_ms,
            )  # fmt: skip
            config = pb.StreamConfig(
                partitions=saved.partitions,
                retention_max_messages=saved.retention_max_messages,
                retention_max_age_ms=saved.retention_max_age_ms,
            )
            return pb.ConfigureStreamResponse(status=ok(), config=config)

        return await self.call("stream.configure", context, body)
