"""HealthService: liveness and readiness, open to everyone."""

from __future__ import annotations

import asyncio

import grpc

from flowmesh import __version__
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.grpc_api.base import Service, ok


class HealthService(pb_grpc.HealthServiceServicer, Service):
    async def HealthCheck(
        self, request: pb.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> pb.HealthCheckResponse:
        return pb.HealthCheckResponse(status=ok("healthy"), server_version=__version__)

    async def ReadinessCheck(
        self, request: pb.ReadinessCheckRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReadinessCheckResponse:
        store = self.ops.ctx.store
        try:
            await asyncio.wait_for(store.ping(), timeout=2.0)
        except Exception as exc:
            return pb.ReadinessCheckResponse(
                status=pb.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message="not ready",
                                 details=repr(exc)),
                ready=False, store=store.kind, detail=repr(exc),
            )  # fmt: skip
        return pb.ReadinessCheckResponse(status=ok("ready"), ready=True, store=store.kind)
