"""SchemaService over SchemaOps."""

from __future__ import annotations

import grpc

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.grpc_api.base import Service, nanos, ok
from flowmesh.server.store.records import SchemaRecord


def schema(r: SchemaRecord) -> pb.Schema:
    return pb.Schema(id=r.schema_id, type=r.schema_type, version=r.version,
                     definition=r.definition, created_at=nanos(r.created_at_ms))  # fmt: skip


class SchemaService(pb_grpc.SchemaServiceServicer, Service):
    async def RegisterSchema(
        self, request: pb.RegisterSchemaRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterSchemaResponse:
        async def body() -> pb.RegisterSchemaResponse:
            saved = await self.ops.schemas.register(
                self.caller(context), request.tenant, request.schema_id, request.schema_type,
                request.version, request.definition,
            )  # fmt: skip
            return pb.RegisterSchemaResponse(status=ok(), version=saved.version)

        return await self.call("schema.register", context, body)

    async def GetSchema(
        self, request: pb.GetSchemaRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSchemaResponse:
        async def body() -> pb.GetSchemaResponse:
            found = await self.ops.schemas.get(
                self.caller(context), request.tenant, request.schema_id, request.version
            )
            return pb.GetSchemaResponse(status=ok(), schema=schema(found))

        return await self.call("schema.get", context, body)

    async def ListSchemas(
        self, request: pb.ListSchemasRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSchemasResponse:
        async def body() -> pb.ListSchemasResponse:
            found = await self.ops.schemas.list_versions(
                self.caller(context), request.tenant, request.schema_id
            )
            return pb.ListSchemasResponse(status=ok(), schemas=[schema(r) for r in found])

        return await self.call("schema.list", context, body)

    async def DeleteSchema(
        self, request: pb.DeleteSchemaRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteSchemaResponse:
        async def body() -> pb.DeleteSchemaResponse:
            await self.ops.schemas.delete(
                self.caller(context), request.tenant, request.schema_id, request.version
            )
            return pb.DeleteSchemaResponse(status=ok())

        return await self.call("schema.delete", context, body)

    async def SetResourceSchema(
        self, request: pb.SetResourceSchemaRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetResourceSchemaResponse:
        async def body() -> pb.SetResourceSchemaResponse:
            resource = self.resource(request, "stream", "queue")
            version = await self.ops.schemas.attach(
                self.caller(context), request.resource_path.resource_type, resource,
                request.schema_id, request.version, request.detach,
            )  # fmt: skip
            return pb.SetResourceSchemaResponse(status=ok(), version=version)

        return await self.call("schema.attach", context, body)
