"""Table rows keyed by primary key (``{tenant}:table:{table}:pk:{pkid}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import _UNSET, TenantCache

Models = Mapping[str, Any] | None


class RedisTable(TenantCache):
    """Rows of named tables for one tenant (e.g. a cached copy of an Airtable table)."""

    redis_alias = "default"
    __slots__ = ()

    def key(self, table: str, pkid: str) -> str:
        return KeyFactory.table(self._root, table, pkid)

    async def set(self, table: str, pkid: str, data: Mapping[str, Any], ttl: Any = _UNSET) -> bool:
        """Replace the row, atomically."""
        return await self._hash_set(self.key(table, pkid), data, ttl, replace=True)

    async def get(self, table: str, pkid: str, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self.key(table, pkid), models)

    async def get_field(self, table: str, pkid: str, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self.key(table, pkid), field, model)

    async def update_field(
        self, table: str, pkid: str, field: str, value: Any, ttl: Any = _UNSET
    ) -> bool:
        return await self._hash_set_field(self.key(table, pkid), field, value, ttl)

    async def upsert(
        self,
        table: str,
        pkid: str,
        data: Mapping[str, Any],
        ttl: Any = _UNSET,
        models: Models = None,
    ) -> dict[str, Any]:
        """Merge fields into the row and return the merged row (one round trip)."""
        return await self._hash_merge(self.key(table, pkid), data, ttl, models)

    async def delete(self, table: str, pkid: str) -> bool:
        return await self._delete(self.key(table, pkid))

    async def exists(self, table: str, pkid: str) -> bool:
        return await self._exists(self.key(table, pkid))

    async def list_pkids(self, table: str) -> list[str]:
        keys = await self._scan(KeyFactory.table_pattern(self._root, table))
        return sorted(KeyFactory.last_part(key) for key in keys)

    async def delete_table(self, table: str) -> int:
        return await self._delete_pattern(KeyFactory.table_pattern(self._root, table))

    async def delete_all_by_pkid(self, pkid: str) -> int:
        """Delete the row with this primary key from every table of the tenant."""
        return await self._delete_pattern(KeyFactory.table_pkid_pattern(self._root, pkid))
