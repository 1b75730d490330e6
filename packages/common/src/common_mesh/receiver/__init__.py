"""The mesh receiver: accepts batches from :mod:`common_mesh` clients and appends
their models to FlowMesh streams named by (org, module, model)."""

from common_mesh.receiver.app import ReceiverStats, create_app
from common_mesh.receiver.ledger import BatchLedger, LayeredLedger, MemoryLedger
from common_mesh.receiver.sink import StreamSink

__all__ = [
    "BatchLedger",
    "LayeredLedger",
    "MemoryLedger",
    "ReceiverStats",
    "StreamSink",
    "create_app",
]
