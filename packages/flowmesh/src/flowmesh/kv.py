"""``client.kv``: key-value stores with per-key TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator

from flowmesh import _convert as cv
from flowmesh._part import Part, every_page
from flowmesh.proto import flowmesh_pb2 as pb
from flowmesh.proto import flowmesh_pb2_grpc as pb_grpc
from flowmesh.types import KeyPage, KVStoreInfo, KVStorePage


class KVClient(Part):
    @property
    def _stub(self) -> pb_grpc.KVServiceStub:
        return self._client._stubs().kv

    async def set(
        self,
        tenant: str,
        namespace: str,
        store: str,
        key: str,
        value: bytes,
        ttl: cv.Duration | None = None,
    ) -> None:
        """Store ``value`` under ``key``; with ``ttl`` it disappears after that long."""
        request = pb.SetRequest(
            resource_path=cv.path(tenant, namespace, "kv", store),
            key=key,
            value=cv.as_bytes(value, "value"),
        )
        cv.set_duration(request, "ttl_seconds", "ttl_ms", ttl, "ttl")
        await self._call(self._stub.Set, request, "kv.set", idempotent=True)

    async def get(self, tenant: str, namespace: str, store: str, key: str) -> bytes:
        """The value; raises :class:`FlowMeshNotFoundError` for a missing or expired key."""
        request = pb.GetRequest(resource_path=cv.path(tenant, namespace, "kv", store), key=key)
        response = await self._call(self._stub.Get, request, "kv.get", idempotent=True)
        return bytes(response.value)

    async def delete(self, tenant: str, namespace: str, store: str, key: str) -> bool:
        """Remove the key; True when it existed."""
        request = pb.DeleteRequest(resource_path=cv.path(tenant, namespace, "kv", store), key=key)
        response = await self._call(self._stub.Delete, request, "kv.delete", idempotent=True)
        return bool(response.deleted)

    async def exists(self, tenant: str, namespace: str, store: str, key: str) -> bool:
        request = pb.ExistsRequest(resource_path=cv.path(tenant, namespace, "kv", store), key=key)
        response = await self._call(self._stub.Exists, request, "kv.exists", idempotent=True)
        return bool(response.exists)

    async def list_keys_page(
        self,
        tenant: str,
        namespace: str,
        store: str,
        prefix: str = "",
        page_size: int = 1000,
        page_token: str = "",
    ) -> KeyPage:
        """One page of live keys starting with ``prefix``, in order, from where
        ``page_token`` (a previous page's ``next_page_token``) left off: every page
        costs the same, however deep. An extension of this server."""
        request = pb.ListKeysRequest(
            resource_path=cv.path(tenant, namespace, "kv", store),
            prefix=prefix,
            limit=page_size,
            page_token=page_token,
        )
        response = await self._call(self._stub.ListKeys, request, "kv.list_keys", idempotent=True)
        return KeyPage(keys=list(response.keys), next_page_token=response.next_page_token)

    async def iter_keys(
        self, tenant: str, namespace: str, store: str, prefix: str = "", page_size: int = 1000
    ) -> AsyncIterator[str]:
        """Every live key starting with ``prefix``, in order, fetched a page at a time."""
        token = ""
        while True:
            page = await self.list_keys_page(tenant, namespace, store, prefix, page_size, token)
            for key in page.keys:
                yield key
            if not page.next_page_token:
                return
            token = page.next_page_token

    async def list_keys(
        self, tenant: str, namespace: str, store: str, prefix: str = ""
    ) -> list[str]:
        """Every live key starting with ``prefix`` (all pages; see :meth:`iter_keys`)."""
        return [key async for key in self.iter_keys(tenant, namespace, store, prefix)]

    async def list_stores_page(
        self, tenant: str = "", namespace: str = "", page_size: int = 100, page_token: str = ""
    ) -> KVStorePage:
        """One page (at most ``page_size``, up to 1000) of the KV stores this token
        may read (of ``tenant``/``namespace`` when given), by path, with their key
        counts, from where ``page_token`` left off. An extension of this server."""
        request = pb.ListKVStoresRequest(
            filter=cv.filter_of(tenant, namespace), page_size=page_size, page_token=page_token
        )
        response = await self._call(
            self._stub.ListKVStores, request, "kv.list_stores", idempotent=True
        )
        return KVStorePage(
            stores=[cv.kv_store_info(i) for i in response.stores],
            next_page_token=response.next_page_token,
        )

    async def list_stores(
        self, tenant: str = "", namespace: str = "", page_size: int = 1000
    ) -> list[KVStoreInfo]:
        """Every KV store this token may read (all pages; see :meth:`list_stores_page`)."""
        return await every_page(
            lambda token: self.list_stores_page(tenant, namespace, page_size, token),
            lambda page: page.stores,
        )
