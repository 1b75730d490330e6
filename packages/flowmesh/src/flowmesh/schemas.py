"""``client.schemas``: JSON Schema versions per tenant, attached to streams and queues.

Once a version is attached to a stream (or queue), every write (enqueue) to it
is checked against it; a batch with one invalid event is refused whole, and
stored messages carry the ``schema_version`` they were checked against.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from flowmesh import _convert as cv
from flowmesh._part import Part
from flowmesh.exceptions import FlowMeshInvalidArgumentError
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.types import Schema

ResourceType = Literal["stream", "queue"]


def _definition(value: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":")).encode()
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise FlowMeshInvalidArgumentError(
        f"definition: must be a dict, str or bytes, got {type(value).__name__}"
    )


class SchemaClient(Part):
    @property
    def _stub(self) -> pb_grpc.SchemaServiceStub:
        return self._client._stubs().schema

    async def register(
        self,
        tenant: str,
        schema_id: str,
        definition: bytes | str | dict[str, Any],
        version: int = 0,
        schema_type: str = "jsonschema",
    ) -> int:
        """Register a JSON Schema document as ``version`` (0: the next free one);
        the version registered. An invalid document is refused, naming the problem."""
        request = pb.RegisterSchemaRequest(
            tenant=tenant, schema_id=schema_id, schema_type=schema_type, version=version,
            definition=_definition(definition),
        )  # fmt: skip
        response = await self._call(self._stub.RegisterSchema, request, "schemas.register")
        return int(response.version) or version

    async def get(self, tenant: str, schema_id: str, version: int = 0) -> Schema:
        """One version (0: the latest)."""
        request = pb.GetSchemaRequest(tenant=tenant, schema_id=schema_id, version=version)
        response = await self._call(self._stub.GetSchema, request, "schemas.get", idempotent=True)
        return cv.schema(response.schema)

    async def list_schemas(self, tenant: str, schema_id: str = "") -> list[Schema]:
        """The tenant's schema versions (of ``schema_id`` only, when given)."""
        request = pb.ListSchemasRequest(tenant=tenant, schema_id=schema_id)
        response = await self._call(
            self._stub.ListSchemas, request, "schemas.list", idempotent=True
        )
        return [cv.schema(s) for s in response.schemas]

    async def delete(self, tenant: str, schema_id: str, version: int) -> None:
        """Delete a version; refused (FlowMeshFailedPreconditionError) while a stream
        or queue has it attached."""
        request = pb.DeleteSchemaRequest(tenant=tenant, schema_id=schema_id, version=version)
        await self._call(self._stub.DeleteSchema, request, "schemas.delete")

    async def attach(
        self,
        tenant: str,
        namespace: str,
        name: str,
        schema_id: str,
        version: int = 0,
        *,
        resource_type: ResourceType = "stream",
    ) -> int:
        """Check every later write to the stream (or enqueue to the queue) against
        ``version`` (0: the latest now); the version attached."""
        request = pb.SetResourceSchemaRequest(
            resource_path=cv.path(tenant, namespace, resource_type, name),
            schema_id=schema_id,
            version=version,
        )
        response = await self._call(self._stub.SetResourceSchema, request, "schemas.attach")
        return int(response.version) or version

    async def detach(
        self, tenant: str, namespace: str, name: str, *, resource_type: ResourceType = "stream"
    ) -> None:
        """Stop checking writes to the stream (or queue)."""
        request = pb.SetResourceSchemaRequest(
            resource_path=cv.path(tenant, namespace, resource_type, name), detach=True
        )
        await self._call(self._stub.SetResourceSchema, request, "schemas.detach")
