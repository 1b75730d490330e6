"""KV operations: set with TTL, get, delete, exists, paged prefix listing."""

from __future__ import annotations

from flowmesh.server import validation as v
from flowmesh.server.auth import Caller
from flowmesh.server.errors import NotFound, ResourceExhausted
from flowmesh.server.ops.context import OpsContext
from flowmesh.server.store.records import KeyPage, Resource

DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
# A listing without a page size returns every key, up to this many (past it the
# caller must page; a response of millions of keys helps nobody).
MAX_UNPAGED_KEYS = 100_000


class KVOps:
    def __init__(self, ctx: OpsContext) -> None:
        self.ctx = ctx

    async def set(
        self, caller: Caller, store: Resource, key: str, value: bytes, ttl_ms: int = 0
    ) -> None:
        caller.allow(store, "kv:write")
        key = v.kv_key(key)
        v.payload(value, "value", self.ctx.limits)
        ttl = v.duration_ms(ttl_ms, "ttl", 0, v.MAX_TTL_MS)
        await self.ctx.store.kv_set(store, key, value, ttl)
        self.ctx.changed("kv", store.path, {"op": "set", "key": key, "ttl_ms": ttl})

    async def get(self, caller: Caller, store: Resource, key: str) -> bytes:
        caller.allow(store, "kv:read")
        key = v.kv_key(key)
        value = await self.ctx.store.kv_get(store, key)
        if value is None:
            raise NotFound(f"key {key!r} does not exist in store {store.path!r}")
        return value

    async def delete(self, caller: Caller, store: Resource, key: str) -> bool:
        caller.allow(store, "kv:write")
        key = v.kv_key(key)
        deleted = await self.ctx.store.kv_delete(store, key)
        if deleted:
            self.ctx.changed("kv", store.path, {"op": "delete", "key": key})
        return deleted

    async def exists(self, caller: Caller, store: Resource, key: str) -> bool:
        caller.allow(store, "kv:read")
        key = v.kv_key(key)
        try:
            return await self.ctx.store.kv_get(store, key) is not None
        except NotFound:
            return False

    async def list_keys(
        self, caller: Caller, store: Resource, prefix: str = "", limit: int = 0,
        page_token: str = "",
    ) -> KeyPage:  # fmt: skip
        """One page of live keys starting with ``prefix``, in order; ``limit`` 0
        means every key (an error past MAX_UNPAGED_KEYS)."""
        caller.allow(store, "kv:read")
        prefix = v.prefix(prefix)
        after = v.prefix(page_token, "page_token")
        if limit:
            limit = v.in_range(limit, "limit", 1, MAX_PAGE)
            return await self.ctx.store.kv_list(store, prefix, limit, after)
        keys: list[str] = []
        while True:
            page = await self.ctx.store.kv_list(store, prefix, MAX_PAGE, after)
            keys.extend(page.keys)
            if page.next_after is None:
                return KeyPage(keys)
            if len(keys) >= MAX_UNPAGED_KEYS:
                raise ResourceExhausted(
                    f"limit: more than {MAX_UNPAGED_KEYS} keys match; list them in pages "
                    "(limit and page_token)"
                )
            after = page.next_after
