"""The SQLite store's listings and access tokens (mixed into SqliteStore)."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from flowmesh.server.errors import NotFound
from flowmesh.server.store.records import Resource, StreamConfig
from flowmesh.server.tokens import TokenRecord

if TYPE_CHECKING:
    from flowmesh.server.store.sqlite_worker import Op, Worker

# Created on open next to the other tables (see sqlite_schema.setup).
ACCESS_TABLE = """
CREATE TABLE IF NOT EXISTS access_tokens (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"""


def _resource(path: str) -> Resource:
    tenant, namespace, name = path.split("/", 2)
    return Resource(tenant, namespace, name)


class SqliteAdminMixin:
    if TYPE_CHECKING:
        _worker: Worker

        def _read(self, op: Op) -> Any: ...

    # -- listings
    async def list_resources(self, kind: str) -> list[Resource]:
        def op(conn: sqlite3.Connection) -> list[Resource]:
            rows = conn.execute("SELECT path FROM resources WHERE kind=? ORDER BY path", (kind,))
            return [_resource(r[0]) for r in rows]

        result: list[Resource] = self._read(op)
        return result

    async def list_resources_page(
        self, kind: str, prefix: str, after: str, limit: int
    ) -> list[Resource]:
        # Paths are checked names joined by "/", so every path under ``prefix``
        # (which ends in "/") sorts below ``prefix`` with that "/" raised to "0".
        low = max(after, prefix)
        high = prefix[:-1] + "0" if prefix else "\U0010ffff"

        def op(conn: sqlite3.Connection) -> list[Resource]:
            rows = conn.execute(
                "SELECT path FROM resources WHERE kind=? AND path>? AND path<?"
                " ORDER BY path LIMIT ?",
                (kind, low, high, limit),
            )
            return [_resource(r[0]) for r in rows if r[0].startswith(prefix)]

        result: list[Resource] = self._read(op)
        return result

    async def stream_config(self, stream: Resource) -> StreamConfig:
        def op(conn: sqlite3.Connection) -> StreamConfig | None:
            row = conn.execute(
                "SELECT s.partitions, s.retention_max_messages, s.retention_max_age_ms"
                " FROM resources r JOIN streams s ON s.stream_id = r.id"
                " WHERE r.kind='stream' AND r.path=?",
                (stream.path,),
            ).fetchone()
            return StreamConfig(*row) if row else None

        found: StreamConfig | None = self._read(op)
        if found is None:
            raise NotFound(f"stream {stream.path!r} does not exist")
        return found

    async def list_groups(self, stream: Resource) -> list[tuple[str, int, int]]:
        def op(conn: sqlite3.Connection) -> list[tuple[str, int, int]] | None:
            row = conn.execute(
                "SELECT id FROM resources WHERE kind='stream' AND path=?", (stream.path,)
            ).fetchone()
            if row is None:
                return None
            rows = conn.execute(
                "SELECT grp, partition, offset FROM group_offsets WHERE stream_id=?"
                " ORDER BY grp, partition",
                (row[0],),
            )
            return [(r[0], int(r[1]), int(r[2])) for r in rows]

        found: list[tuple[str, int, int]] | None = self._read(op)
        if found is None:
            raise NotFound(f"stream {stream.path!r} does not exist")
        return found

    async def kv_count(self, store: Resource) -> int:
        now = int(time.time() * 1000)

        def op(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT id FROM resources WHERE kind='kv' AND path=?", (store.path,)
            ).fetchone()
            if row is None:
                return None
            counted = conn.execute(
                "SELECT COUNT(*) FROM kv WHERE store_id=? AND (expires_at=0 OR expires_at>?)",
                (row[0], now),
            ).fetchone()
            return int(counted[0])

        found: int | None = self._read(op)
        if found is None:
            raise NotFound(f"kv store {store.path!r} does not exist")
        return found

    # -- access tokens
    async def token_put(self, record: TokenRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO access_tokens (id, doc) VALUES (?, ?)",
                (record.token_id, record.to_json()),
            )

        await self._worker.call(op)

    async def token_list(self) -> list[TokenRecord]:
        def op(conn: sqlite3.Connection) -> list[TokenRecord]:
            rows = conn.execute("SELECT doc FROM access_tokens ORDER BY id")
            return [TokenRecord.from_json(r[0]) for r in rows]

        result: list[TokenRecord] = self._read(op)
        return result
