"""ReplayService over ReplayOps."""

from __future__ import annotations

import grpc

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.grpc_api.base import Service, nanos, ok
from flowmesh.server.store.records import ReplayRecord


def session(r: ReplayRecord) -> pb.ReplaySession:
    return pb.ReplaySession(
        session_id=r.session_id,
        stream=r.resource.typed_path("stream"),
        partition=r.partition,
        start_offset=r.start_offset,
        start_timestamp=nanos(r.start_time_ms),
        end_offset=r.end_offset,
        end_timestamp=nanos(r.end_time_ms),
        sandbox_consumer_group=r.sandbox_group,
        status=r.status,
        progress=pb.ReplayProgress(
            current_offset=r.cursor,
            messages_replayed=r.replayed,
            errors=r.errors,
            started_at=nanos(r.started_at_ms),
            paused_at=nanos(r.paused_at_ms),
            completed_at=nanos(r.completed_at_ms),
        ),
        created_at=nanos(r.created_at_ms),
        updated_at=nanos(r.updated_at_ms),
        max_messages_per_second=r.max_rate,
    )


class ReplayService(pb_grpc.ReplayServiceServicer, Service):
    async def CreateReplaySession(
        self, request: pb.CreateReplaySessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateReplaySessionResponse:
        async def body() -> pb.CreateReplaySessionResponse:
            created = await self.ops.replay.create(
                self.caller(context),
                self.resource(request, "stream"),
                request.sandbox_consumer_group,
                partition=request.partition,
                start_offset=request.start_offset,
                start_time_ns=request.start_timestamp,
                end_offset=request.end_offset,
                end_time_ns=request.end_timestamp,
                max_rate=request.max_messages_per_second,
            )
            return pb.CreateReplaySessionResponse(status=ok(), session=session(created))

        return await self.call("replay.create", context, body)

    async def GetReplaySession(
        self, request: pb.GetReplaySessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReplaySessionResponse:
        async def body() -> pb.GetReplaySessionResponse:
            found = await self.ops.replay.get(self.caller(context), request.session_id)
            return pb.GetReplaySessionResponse(status=ok(), session=session(found))

        return await self.call("replay.get", context, body)

    async def ListReplaySessions(
        self, request: pb.ListReplaySessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListReplaySessionsResponse:
        async def body() -> pb.ListReplaySessionsResponse:
            stream = self.resource(request, "stream") if request.HasField("resource_path") else None
            found = await self.ops.replay.list_sessions(self.caller(context), stream)
            return pb.ListReplaySessionsResponse(status=ok(), sessions=[session(r) for r in found])

        return await self.call("replay.list", context, body)

    async def StartReplay(
        self, request: pb.StartReplayRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartReplayResponse:
        async def body() -> pb.StartReplayResponse:
            await self.ops.replay.start(self.caller(context), request.session_id)
            return pb.StartReplayResponse(status=ok())

        return await self.call("replay.start", context, body)

    async def PauseReplay(
        self, request: pb.PauseReplayRequest, context: grpc.aio.ServicerContext
    ) -> pb.PauseReplayResponse:
        async def body() -> pb.PauseReplayResponse:
            await self.ops.replay.pause(self.caller(context), request.session_id)
            return pb.PauseReplayResponse(status=ok())

        return await self.call("replay.pause", context, body)

    async def ResumeReplay(
        self, request: pb.ResumeReplayRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResumeReplayResponse:
        async def body() -> pb.ResumeReplayResponse:
            await self.ops.replay.resume(self.caller(context), request.session_id)
            return pb.ResumeReplayResponse(status=ok())

        return await self.call("replay.resume", context, body)

    async def StopReplay(
        self, request: pb.StopReplayRequest, context: grpc.aio.ServicerContext
    ) -> pb.StopReplayResponse:
        async def body() -> pb.StopReplayResponse:
            await self.ops.replay.stop(self.caller(context), request.session_id)
            return pb.StopReplayResponse(status=ok())

        return await self.call("replay.stop", context, body)

    async def DeleteReplaySession(
        self, request: pb.DeleteReplaySessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteReplaySessionResponse:
        async def body() -> pb.DeleteReplaySessionResponse:
            await self.ops.replay.delete(self.caller(context), request.session_id)
            return pb.DeleteReplaySessionResponse(status=ok())

        return await self.call("replay.delete", context, body)
