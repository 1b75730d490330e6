"""KVService over KVOps."""

from __future__ import annotations

import grpc

from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.server.grpc_api.base import millis, ok
from flowmesh.server.grpc_api.listing import KVListing

_KV = ("kv",)


class KVService(KVListing, pb_grpc.KVServiceServicer):
    async def Set(
        self, request: pb.SetRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetResponse:
        async def body() -> pb.SetResponse:
            await self.ops.kv.set(
                self.caller(context), self.resource(request, *_KV), request.key, request.value,
                millis(request, "ttl_ms", "ttl_seconds"),
            )  # fmt: skip
            return pb.SetResponse(status=ok())

        return await self.call("kv.set", context, body)

    async def Get(
        self, request: pb.GetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetResponse:
        async def body() -> pb.GetResponse:
            value = await self.ops.kv.get(
                self.caller(context), self.resource(request, *_KV), request.key
            )
            return pb.GetResponse(status=ok(), value=value)

        return await self.call("kv.get", context, body)

    async def Delete(
        self, request: pb.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteResponse:
        async def body() -> pb.DeleteResponse:
            deleted = await self.ops.kv.delete(
                self.caller(context), self.resource(request, *_KV), request.key
            )
            return pb.DeleteResponse(status=ok(), deleted=deleted)

        return await self.call("kv.delete", context, body)

    async def Exists(
        self, request: pb.ExistsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExistsResponse:
        async def body() -> pb.ExistsResponse:
            found = await self.ops.kv.exists(
                self.caller(context), self.resource(request, *_KV), request.key
            )
            return pb.ExistsResponse(status=ok(), exists=found)

        return await self.call("kv.exists", context, body)

    async def ListKeys(
        self, request: pb.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKeysResponse:
        async def body() -> pb.ListKeysResponse:
            page = await self.ops.kv.list_keys(
                self.caller(context), self.resource(request, *_KV), request.prefix,
                request.limit, request.page_token,
            )  # fmt: skip
            return pb.ListKeysResponse(status=ok(), keys=page.keys,
                                       next_page_token=page.next_after or "")  # fmt: skip

        return await self.call("kv.list_keys", context, body)
