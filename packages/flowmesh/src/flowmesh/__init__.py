"""FlowMesh: streams, queues and KV (plus schemas and replay) over gRPC, speaking
the published flowmesh.v1 protocol. This is the async SDK.

::

    from flowmesh import FlowMesh, Event

    async with FlowMesh(endpoint="localhost:50051") as client:
        await client.stream.write("tenant", "ns", "orders", [Event(payload=b"{}")])

The server lives in :mod:`flowmesh.server` (``flowmesh serve``).
"""

__version__ = "0.1.0"

from flowmesh import tracing
from flowmesh.client import FlowMesh
from flowmesh.exceptions import (
    FlowMeshAlreadyExistsError,
    FlowMeshAuthError,
    FlowMeshConnectionError,
    FlowMeshError,
    FlowMeshFailedPreconditionError,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
    FlowMeshPermissionDeniedError,
    FlowMeshResourceExhaustedError,
)
from flowmesh.kv import KVClient
from flowmesh.queues import QueueClient
from flowmesh.replay import ReplayClient
from flowmesh.schemas import SchemaClient
from flowmesh.streams import StreamClient
from flowmesh.types import (
    ConsumerGroupState,
    Event,
    Job,
    KVStoreInfo,
    Message,
    QueueInfo,
    QueueStats,
    ReplayProgress,
    ReplaySession,
    RetryPolicy,
    Schema,
    StreamInfo,
)

__all__ = [
    "ConsumerGroupState",
    "Event",
    "FlowMesh",
    "FlowMeshAlreadyExistsError",
    "FlowMeshAuthError",
    "FlowMeshConnectionError",
    "FlowMeshError",
    "FlowMeshFailedPreconditionError",
    "FlowMeshInvalidArgumentError",
    "FlowMeshNotFoundError",
    "FlowMeshPermissionDeniedError",
    "FlowMeshResourceExhaustedError",
    "Job",
    "KVClient",
    "KVStoreInfo",
    "Message",
    "QueueClient",
    "QueueInfo",
    "QueueStats",
    "ReplayClient",
    "ReplayProgress",
    "ReplaySession",
    "RetryPolicy",
    "Schema",
    "SchemaClient",
    "StreamClient",
    "StreamInfo",
    "__version__",
    "tracing",
]
