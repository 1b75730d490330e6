"""Table rows keyed by primary key (``{tenant}:df:{table}:pkid:{pkid}``, alias ``handlers``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import KeyFactory
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache

Models = Mapping[str, Any] | None


class RedisTable(TenantCache):
    """Rows of named tables for one tenant (e.g. a cached copy of an Airtable table)."""

    default_alias = "handlers"

    def key(self, table: str, pkid: str) -> str:
        return self.keys.table(self.tenant, table, pkid)

    _key = key  # 1.4's name

    async def upsert(
        self, table_name: str, pkid: str, data: Mapping[str, Any], ttl: Any = None
    ) -> bool:
        """Write these fields of the row (others are kept) and restart its expiry."""
        return await self._hash_set(self.key(table_name, pkid), data, ttl)

    async def set(
        self, table_name: str, pkid: str, data: Mapping[str, Any], ttl: Any = None
    ) -> bool:
        """Replace the row, atomically."""
        return await self._hash_set(self.key(table_name, pkid), data, ttl, replace=True)

    async def update(
        self,
        table_name: str,
        pkid: str,
        data: Mapping[str, Any],
        ttl: Any = None,
        models: Models = None,
    ) -> dict[str, Any]:
        """Merge fields into the row and return the merged row (one round trip)."""
        return await self._hash_merge(self.key(table_name, pkid), data, ttl, models)

    async def get(self, table_name: str, pkid: str, models: Models = None) -> dict[str, Any] | None:
        return await self._hash_get(self.key(table_name, pkid), models)

    async def get_field(self, table_name: str, pkid: str, field: str, model: Any = None) -> Any:
        return await self._hash_get_field(self.key(table_name, pkid), field, model)

    async def update_field(
        self, table_name: str, pkid: str, field: str, value: Any, ttl: Any = None
    ) -> bool:
        return await self._hash_set_field(self.key(table_name, pkid), field, value, ttl)

    async def increment_field(
        self, table_name: str, pkid: str, field: str, increment: int | float = 1, ttl: Any = None
    ) -> int | float:
        return await self._hash_increment(self.key(table_name, pkid), field, increment, ttl)

    async def append_to_list(
        self, table_name: str, pkid: str, field: str, value: Any, ttl: Any = None
    ) -> bool:
        await self._hash_append(self.key(table_name, pkid), field, value, ttl)
        return True

    async def delete_field(self, table_name: str, pkid: str, field: str) -> int:
        return await self._hash_delete_field(self.key(table_name, pkid), field)

    async def delete(self, table_name: str, pkid: str) -> int:
        return await self._delete(self.key(table_name, pkid))

    async def exists(self, table_name: str, pkid: str) -> bool:
        return await self._exists(self.key(table_name, pkid))

    async def find_by_field(
        self, table_name: str, field: str, value: Any, models: Models = None
    ) -> dict[str, Any] | None:
        """The first row of the table whose ``field`` equals ``value``, or None."""
        pattern = self.keys.table_pattern(self.tenant, table_name)
        found = await self._find_all(pattern, field, value, models, first=True)
        return found[0] if found else None

    async def list_pkids(self, table_name: str) -> list[str]:
        keys = await self._scan(self.keys.table_pattern(self.tenant, table_name))
        return sorted(KeyFactory.part(key, -1) for key in keys)

    async def delete_table(self, table_name: str) -> int:
        return await self._delete_pattern(self.keys.table_pattern(self.tenant, table_name))

    async def delete_all_by_pkid(self, pkid: str) -> int:
        """Delete the row with this primary key from every table of the tenant."""
        return await self._delete_pattern(self.keys.table_pkid_pattern(self.tenant, pkid))
