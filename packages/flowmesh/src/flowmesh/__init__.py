"""FlowMesh: streams, queues and KV over gRPC. This is the async SDK.

::

    from flowmesh import FlowMesh, Event

    async with FlowMesh(endpoint="localhost:50051") as client:
        await client.stream.write("tenant", "ns", "orders", [Event(payload=b"{}")])

The server lives in :mod:`flowmesh.server` (``flowmesh serve``).
"""

__version__ = "0.1.0"

from flowmesh.client import FlowMesh, KVClient, QueueClient, StreamClient
from flowmesh.errors import (
    FlowMeshAuthError,
    FlowMeshConnectionError,
    FlowMeshError,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
    FlowMeshPermissionDeniedError,
)
from flowmesh.models import (
    ConsumerGroupState,
    Event,
    Job,
    Message,
    QueueStats,
    RetryPolicy,
)

__all__ = [
    "ConsumerGroupState",
    "Event",
    "FlowMesh",
    "FlowMeshAuthError",
    "FlowMeshConnectionError",
    "FlowMeshError",
    "FlowMeshInvalidArgumentError",
    "FlowMeshNotFoundError",
    "FlowMeshPermissionDeniedError",
    "Job",
    "KVClient",
    "Message",
    "QueueClient",
    "QueueStats",
    "RetryPolicy",
    "StreamClient",
    "__version__",
]
