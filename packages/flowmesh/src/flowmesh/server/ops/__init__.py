"""The server's operations, free of any transport.

Each takes the :class:`~flowmesh.server.auth.Caller` (who is asking) and plain
values, validates them (errors name the field as published), checks the
caller may touch the tenant, and calls the store. The gRPC services
(:mod:`flowmesh.server.grpc_api`) only translate messages to and from these
calls; another transport (HTTP) calls the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowmesh.server.ops.context import OpsContext
from flowmesh.server.ops.kv import KVOps
from flowmesh.server.ops.listing import KVStoreInfo, ListingOps, QueueInfo, StreamInfo
from flowmesh.server.ops.queues import NewJob, QueueOps
from flowmesh.server.ops.replay import ReplayOps
from flowmesh.server.ops.schemas import SchemaOps
from flowmesh.server.ops.streams import GroupState, ReadResult, StreamOps, message_id

__all__ = [
    "GroupState",
    "KVOps",
    "KVStoreInfo",
    "ListingOps",
    "NewJob",
    "Operations",
    "OpsContext",
    "QueueInfo",
    "QueueOps",
    "ReadResult",
    "ReplayOps",
    "SchemaOps",
    "StreamInfo",
    "StreamOps",
    "message_id",
]


@dataclass
class Operations:
    ctx: OpsContext
    streams: StreamOps
    queues: QueueOps
    kv: KVOps
    schemas: SchemaOps
    replay: ReplayOps
    listing: ListingOps

    @classmethod
    def build(cls, ctx: OpsContext) -> Operations:
        schemas = SchemaOps(ctx)
        replay = ReplayOps(ctx)
        return cls(
            ctx=ctx,
            streams=StreamOps(ctx, schemas, replay),
            queues=QueueOps(ctx, schemas),
            kv=KVOps(ctx),
            schemas=schemas,
            replay=replay,
            listing=ListingOps(ctx),
        )
