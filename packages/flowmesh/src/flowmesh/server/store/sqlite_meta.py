"""The SQLite store's schema registry and replay sessions (mixed into SqliteStore)."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import TYPE_CHECKING, Any

from flowmesh.server.errors import AlreadyExists, FailedPrecondition, NotFound
from flowmesh.server.store.records import ReplayRecord, Resource, SchemaRecord, replay_topic

if TYPE_CHECKING:
    from flowmesh.server.notify import Notifier
    from flowmesh.server.store.sqlite_worker import Op, Worker

_SCHEMA_COLUMNS = "tenant, schema_id, version, type, definition, created_at, fingerprint"


def _schema(row: Any) -> SchemaRecord:
    return SchemaRecord(row[0], row[1], int(row[2]), row[3], bytes(row[4]), int(row[5]), row[6])


def _session(row: Any) -> ReplayRecord:
    record = ReplayRecord.from_json(row[0])
    record.revision = int(row[1])
    return record


class SqliteMetaMixin:
    if TYPE_CHECKING:
        _worker: Worker
        notifier: Notifier

        def _read(self, op: Op) -> Any: ...
        def _lookup(self, conn: sqlite3.Connection, kind: str, res: Resource) -> int | None: ...
        def _ensure(self, conn: sqlite3.Connection, kind: str, res: Resource) -> int: ...

    # -- schemas
    async def schema_register(self, record: SchemaRecord, next_version: bool) -> SchemaRecord:
        def op(conn: sqlite3.Connection) -> SchemaRecord:
            rec = record
            if next_version:
                row = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM schemas WHERE tenant=? AND schema_id=?",
                    (rec.tenant, rec.schema_id),
                ).fetchone()
                rec = dataclasses.replace(rec, version=int(row[0]) + 1)
            try:
                conn.execute(
                    f"INSERT INTO schemas ({_SCHEMA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    (rec.tenant, rec.schema_id, rec.version, rec.schema_type, rec.definition,
                     rec.created_at_ms, rec.fingerprint),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    f"version: {rec.version} of schema {rec.schema_id!r} already exists"
                ) from None
            return rec

        result: SchemaRecord = await self._worker.call(op)
        return result

    async def schema_get(self, tenant: str, schema_id: str, version: int) -> SchemaRecord | None:
        def op(conn: sqlite3.Connection) -> SchemaRecord | None:
            if version > 0:
                row = conn.execute(
                    f"SELECT {_SCHEMA_COLUMNS} FROM schemas"  # noqa: S608
                    " WHERE tenant=? AND schema_id=? AND version=?",
                    (tenant, schema_id, version),
                ).fetchone()
            else:
                row = conn.execute(
                    f"SELECT {_SCHEMA_COLUMNS} FROM schemas"  # noqa: S608
                    " WHERE tenant=? AND schema_id=? ORDER BY version DESC LIMIT 1",
                    (tenant, schema_id),
                ).fetchone()
            return _schema(row) if row else None

        result: SchemaRecord | None = self._read(op)
        return result

    async def schema_list(self, tenant: str, schema_id: str) -> list[SchemaRecord]:
        def op(conn: sqlite3.Connection) -> list[SchemaRecord]:
            rows = conn.execute(
                f"SELECT {_SCHEMA_COLUMNS} FROM schemas"  # noqa: S608
                " WHERE tenant=? AND (?='' OR schema_id=?) ORDER BY schema_id, version",
                (tenant, schema_id, schema_id),
            ).fetchall()
            return [_schema(r) for r in rows]

        result: list[SchemaRecord] = self._read(op)
        return result

    async def schema_delete(self, tenant: str, schema_id: str, version: int) -> None:
        def op(conn: sqlite3.Connection) -> None:
            users = [
                f"{kind} {path!r}"
                for kind, path in conn.execute(
                    "SELECT r.kind, r.path FROM attachments a JOIN resources r"
                    " ON r.id = a.resource_id WHERE a.tenant=? AND a.schema_id=? AND a.version=?"
                    " ORDER BY r.kind, r.path LIMIT 5",
                    (tenant, schema_id, version),
                )
            ]
            if users:
                raise FailedPrecondition(
                    f"version: {version} of schema {schema_id!r} is in use by "
                    f"{', '.join(users)}; attach another version first"
                )
            cur = conn.execute(
                "DELETE FROM schemas WHERE tenant=? AND schema_id=? AND version=?",
                (tenant, schema_id, version),
            )
            if cur.rowcount == 0:
                raise NotFound(f"schema_id: schema {schema_id!r} version {version} does not exist")

        await self._worker.call(op)

    async def schema_attach(
        self, kind: str, resource: Resource, record: SchemaRecord | None
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            rid = self._ensure(conn, kind, resource)
            if record is None:
                conn.execute("DELETE FROM attachments WHERE resource_id=?", (rid,))
                return
            still = conn.execute(
                "SELECT fingerprint FROM schemas WHERE tenant=? AND schema_id=? AND version=?",
                (record.tenant, record.schema_id, record.version),
            ).fetchone()
            if still is None or still[0] != record.fingerprint:
                raise NotFound(
                    f"schema_id: schema {record.schema_id!r} version {record.version} "
                    "does not exist"
                )
            conn.execute(
                "INSERT OR REPLACE INTO attachments VALUES (?, ?, ?, ?, ?)",
                (rid, record.tenant, record.schema_id, record.version, record.token),
            )

        await self._worker.call(op)

    async def schema_attachment(self, kind: str, resource: Resource) -> str:
        def op(conn: sqlite3.Connection) -> str:
            rid = self._lookup(conn, kind, resource)
            if rid is None:
                return ""
            row = conn.execute(
                "SELECT token FROM attachments WHERE resource_id=?", (rid,)
            ).fetchone()
            return str(row[0]) if row else ""

        result: str = self._read(op)
        return result

    # -- replay sessions
    async def replay_create(self, record: ReplayRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO replay_sessions VALUES (?, ?, ?, ?, ?)",
                    (record.session_id, record.resource.path, record.sandbox_group,
                     record.revision, record.to_json()),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise AlreadyExists(
                    f"sandbox_consumer_group: {record.sandbox_group!r} is already used by a "
                    f"replay session of stream {record.resource.path!r}"
                ) from None

        await self._worker.call(op)

    async def replay_get(self, session_id: str) -> ReplayRecord | None:
        def op(conn: sqlite3.Connection) -> ReplayRecord | None:
            row = conn.execute(
                "SELECT doc, revision FROM replay_sessions WHERE id=?", (session_id,)
            ).fetchone()
            return _session(row) if row else None

        result: ReplayRecord | None = self._read(op)
        return result

    async def replay_list(self) -> list[ReplayRecord]:
        def op(conn: sqlite3.Connection) -> list[ReplayRecord]:
            rows = conn.execute("SELECT doc, revision FROM replay_sessions ORDER BY id")
            return [_session(r) for r in rows]

        result: list[ReplayRecord] = self._read(op)
        return result

    async def replay_find(self, stream: Resource, group: str) -> ReplayRecord | None:
        def op(conn: sqlite3.Connection) -> ReplayRecord | None:
            row = conn.execute(
                "SELECT doc, revision FROM replay_sessions WHERE stream=? AND grp=?",
                (stream.path, group),
            ).fetchone()
            return _session(row) if row else None

        result: ReplayRecord | None = self._read(op)
        return result

    async def replay_update(self, record: ReplayRecord) -> bool:
        expected = record.revision
        record.revision = expected + 1
        doc = record.to_json()

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE replay_sessions SET doc=?, revision=? WHERE id=? AND revision=?",
                (doc, expected + 1, record.session_id, expected),
            )
            return cur.rowcount == 1

        saved: bool = await self._worker.call(op)
        if not saved:
            record.revision = expected
            return False
        self.notifier.notify(replay_topic(record.session_id))
        return True

    async def replay_delete(self, session_id: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM replay_sessions WHERE id=?", (session_id,))
            return cur.rowcount == 1

        deleted: bool = await self._worker.call(op)
        if deleted:
            self.notifier.notify(replay_topic(session_id))
        return deleted
