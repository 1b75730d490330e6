"""FlowMesh as the receiver's destination: streams for models, KV for batch ids.

A batch's models are appended with one ``stream.write`` to the stream
``(tenant=org, namespace=module, name=model)``, each event carrying the batch
id in its headers. Stored batch ids go to the KV store ``mesh-batches`` of the
org (with a TTL), so several receivers behind a load balancer agree on what
is a duplicate.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from flowmesh import Event, FlowMesh, FlowMeshNotFoundError

__all__ = ["LEDGER_NAMESPACE", "LEDGER_STORE", "FlowMeshLedger", "FlowMeshSink"]

LEDGER_NAMESPACE = "mesh"
LEDGER_STORE = "mesh-batches"


class FlowMeshSink:
    def __init__(
        self, endpoint: str, auth_token: str | None = None, connect_timeout: float = 3.0
    ) -> None:
        # A short connect timeout: the mesh client is waiting on our answer.
        self.client = FlowMesh(endpoint=endpoint, auth_token=auth_token,
                               connect_timeout=connect_timeout)  # fmt: skip
        self._connected = False
        self._lock = asyncio.Lock()

    async def connection(self) -> FlowMesh:
        if not self._connected:
            async with self._lock:
                if not self._connected:
                    await self.client.connect()
                    self._connected = True
        return self.client

    async def append(
        self, org: str, module: str, model: str, records: list[bytes], batch_id: str
    ) -> None:
        client = await self.connection()
        headers = {"batch_id": batch_id, "content-type": "application/json"}
        events = [Event(payload=record, headers=headers) for record in records]
        await client.stream.write(org, module, model, events)

    async def aclose(self) -> None:
        if self._connected:
            await self.client.close()
            self._connected = False


class FlowMeshLedger:
    """Batch ids in FlowMesh KV, shared by every receiver that uses the same server."""

    def __init__(self, sink: FlowMeshSink, ttl: timedelta = timedelta(hours=24)) -> None:
        self.sink = sink
        self.ttl = ttl

    async def seen(self, org: str, batch_id: str) -> bool:
        client = await self.sink.connection()
        try:
            return await client.kv.exists(org, LEDGER_NAMESPACE, LEDGER_STORE, batch_id)
        except FlowMeshNotFoundError:
            return False  # the org has no ledger yet

    async def remember(self, org: str, batch_id: str) -> None:
        client = await self.sink.connection()
        await client.kv.set(org, LEDGER_NAMESPACE, LEDGER_STORE, batch_id, b"1", ttl=self.ttl)
