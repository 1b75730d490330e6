"""``client.replay``: replay a range of a stream to a sandbox consumer group.

::

    session = await client.replay.create("acme", "shop", "orders", "_replay_debug",
                                         start_offset=0, end_offset=99)
    await client.replay.start(session.session_id)
    async for msg in client.stream.subscribe("acme", "shop", "orders", "_replay_debug"):
        ...  # the 100 messages, then the subscription ends

While the session is active its sandbox group's subscribers receive the
range; paused, they receive nothing more until it resumes; progress counts
what was delivered.
"""

from __future__ import annotations

from datetime import datetime

from flowmesh import _convert as cv
from flowmesh._part import Part
from flowmesh.exceptions import FlowMeshInvalidArgumentError
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.types import ReplayProgress, ReplaySession


class ReplayClient(Part):
    @property
    def _stub(self) -> pb_grpc.ReplayServiceStub:
        return self._client._stubs().replay

    async def create(
        self,
        tenant: str,
        namespace: str,
        stream: str,
        sandbox_consumer_group: str,
        *,
        partition: int = 0,
        start_offset: int | None = None,
        end_offset: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        max_messages_per_second: int = 0,
    ) -> ReplaySession:
        """A new session (status "created") over offsets ``start_offset`` to
        ``end_offset`` (inclusive; None: the latest now) or the messages written
        from ``start_time`` to ``end_time``. ``sandbox_consumer_group`` must start
        with ``_replay_``. An empty range or a range in the future is refused."""
        if start_offset is None and start_time is None:
            raise FlowMeshInvalidArgumentError("start_offset: give start_offset or start_time")
        request = pb.CreateReplaySessionRequest(
            resource_path=cv.path(tenant, namespace, "stream", stream),
            start_offset=start_offset if start_offset is not None else -1,
            start_timestamp=cv.nanos(start_time, "start_time"),
            end_offset=end_offset if end_offset is not None else -1,
            end_timestamp=cv.nanos(end_time, "end_time"),
            sandbox_consumer_group=sandbox_consumer_group,
            partition=partition,
            max_messages_per_second=max_messages_per_second,
        )
        response = await self._call(self._stub.CreateReplaySession, request, "replay.create")
        return cv.session(response.session)

    async def get(self, session_id: str) -> ReplaySession:
        request = pb.GetReplaySessionRequest(session_id=session_id)
        response = await self._call(
            self._stub.GetReplaySession, request, "replay.get", idempotent=True
        )
        return cv.session(response.session)

    async def progress(self, session_id: str) -> ReplayProgress:
        """Current offset, messages replayed and errors of a session."""
        return (await self.get(session_id)).progress

    async def list_sessions(
        self, tenant: str | None = None, namespace: str | None = None, stream: str | None = None
    ) -> list[ReplaySession]:
        """Sessions the token may see; of one stream when all three names are given."""
        request = pb.ListReplaySessionsRequest()
        if tenant is not None and namespace is not None and stream is not None:
            request.resource_path.CopyFrom(cv.path(tenant, namespace, "stream", stream))
        response = await self._call(
            self._stub.ListReplaySessions, request, "replay.list", idempotent=True
        )
        return [cv.session(s) for s in response.sessions]

    async def start(self, session_id: str) -> None:
        await self._call(self._stub.StartReplay, pb.StartReplayRequest(session_id=session_id),
                         "replay.start")  # fmt: skip

    async def pause(self, session_id: str) -> None:
        await self._call(self._stub.PauseReplay, pb.PauseReplayRequest(session_id=session_id),
                         "replay.pause")  # fmt: skip

    async def resume(self, session_id: str) -> None:
        await self._call(self._stub.ResumeReplay, pb.ResumeReplayRequest(session_id=session_id),
                         "replay.resume")  # fmt: skip

    async def stop(self, session_id: str) -> None:
        await self._call(self._stub.StopReplay, pb.StopReplayRequest(session_id=session_id),
                         "replay.stop")  # fmt: skip

    async def delete(self, session_id: str) -> None:
        request = pb.DeleteReplaySessionRequest(session_id=session_id)
        await self._call(self._stub.DeleteReplaySession, request, "replay.delete")
