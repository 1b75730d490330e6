"""Send pydantic models to the data mesh in compressed, idempotent batches.

from common_mesh import MeshEngine

with MeshEngine(base_url="http://data-mesh:8675") as engine:
    session = engine.create_session("org", "mod", "mdl")
    session.send_all_models(my_models)
"""

from common_mesh.aio import AsyncMeshEngine, AsyncMeshSession
from common_mesh.batching import Batch, Batcher, RetryPolicy, SendSummary
from common_mesh.engine import MeshEngine, MeshSession
from common_mesh.errors import (
    MeshDeliveryError,
    MeshError,
    MeshModelError,
    MeshNameError,
    MeshSessionThreadError,
)
from common_mesh.protocol import DEFAULT_PORT

__all__ = [
    "DEFAULT_PORT",
    "AsyncMeshEngine",
    "AsyncMeshSession",
    "Batch",
    "Batcher",
    "MeshDeliveryError",
    "MeshEngine",
    "MeshError",
    "MeshModelError",
    "MeshNameError",
    "MeshSession",
    "MeshSessionThreadError",
    "RetryPolicy",
    "SendSummary",
]
