"""The gRPC edge: flowmesh.v1 services that translate messages to and from the
operations (:mod:`flowmesh.server.ops`)."""

from __future__ import annotations

import grpc

from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.auth import Authenticator
from flowmesh.server.grpc_api.health import HealthService
from flowmesh.server.grpc_api.kv import KVService
from flowmesh.server.grpc_api.queues import QueueService
from flowmesh.server.grpc_api.replay import ReplayService
from flowmesh.server.grpc_api.schemas import SchemaService
from flowmesh.server.grpc_api.streams import StreamService
from flowmesh.server.metrics import Metrics
from flowmesh.server.ops import Operations

__all__ = ["add_services"]


def add_services(
    server: grpc.aio.Server, ops: Operations, auth: Authenticator, metrics: Metrics
) -> None:
    args = (ops, auth, metrics)
    pb_grpc.add_HealthServiceServicer_to_server(HealthService(*args), server)
    pb_grpc.add_StreamServiceServicer_to_server(StreamService(*args), server)
    pb_grpc.add_QueueServiceServicer_to_server(QueueService(*args), server)
    pb_grpc.add_KVServiceServicer_to_server(KVService(*args), server)
    pb_grpc.add_SchemaServiceServicer_to_server(SchemaService(*args), server)
    pb_grpc.add_ReplayServiceServicer_to_server(ReplayService(*args), server)
