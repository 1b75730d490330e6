"""Sync state in one SQLite file, the embedded default (``mimeia up``).

One connection, used only by one worker thread, so calls from the event loop
queue up instead of contending. Every write is its own ``BEGIN IMMEDIATE``
transaction, committed (WAL, ``synchronous=FULL``) before the call returns;
``IMMEDIATE`` takes the write lock before reading, so read-then-write steps
(the cursor compare-and-set) stay atomic even when several processes share
the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from slack_connect.store.base import SyncStore, check_raw_kind, ts_score

__all__ = ["SqliteSyncStore"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_items (
    org TEXT NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org, kind, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS allowlist (
    org TEXT NOT NULL, channel TEXT NOT NULL,
    PRIMARY KEY (org, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    org TEXT NOT NULL, channel TEXT NOT NULL, ts TEXT NOT NULL,
    PRIMARY KEY (org, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    org TEXT NOT NULL, channel TEXT NOT NULL, ts TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (org, channel, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_score ON seen (org, channel, score);
CREATE TABLE IF NOT EXISTS counters (
    org TEXT NOT NULL, channel TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (org, channel, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS synced (
    org TEXT NOT NULL, channel TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (org, channel)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dropped (
    org TEXT NOT NULL, channel TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (org, channel)
) WITHOUT ROWID;
"""

_PUT_RAW = """INSERT INTO raw_items VALUES (?, ?, ?, ?)
ON CONFLICT (org, kind, item_id) DO UPDATE SET body = excluded.body"""
_CLAIM = "INSERT INTO seen VALUES (?, ?, ?, ?) ON CONFLICT (org, channel, ts) DO NOTHING"
_ADD_DROPPED = """INSERT INTO dropped VALUES (?, ?, ?)
ON CONFLICT (org, channel) DO UPDATE SET value = value + excluded.value"""
_ADD_COUNT = """INSERT INTO counters VALUES (?, ?, ?, ?)
ON CONFLICT (org, channel, name) DO UPDATE SET value = value + excluded.value"""
_SET_CURSOR = """INSERT INTO cursors VALUES (?, ?, ?)
ON CONFLICT (org, channel) DO UPDATE SET ts = excluded.ts"""
_MARK_SYNCED = """INSERT INTO synced VALUES (?, ?, ?)
ON CONFLICT (org, channel) DO UPDATE SET at = MAX(at, excluded.at)"""

_BUSY_TIMEOUT_SECONDS = 30.0


class SqliteSyncStore(SyncStore):
    """``path`` is the database file; its folder is created if missing."""

    def __init__(self, path: str | Path, overlap_seconds: float) -> None:
        super().__init__(overlap_seconds)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened here so a bad path fails at start-up; used only on the worker.
        self._conn = sqlite3.connect(
            self.path,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            timeout=_BUSY_TIMEOUT_SECONDS,
            check_same_thread=False,
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slack-sync-sqlite")
        self._closed = False

    async def _call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError(f"sync store {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._worker, op, self._conn)

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        def transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = op(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._call(transaction)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True  # refuse new calls; those already queued run first
        await asyncio.get_running_loop().run_in_executor(self._worker, self._conn.close)
        self._worker.shutdown(wait=False)

    async def _rows(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        return await self._call(lambda conn: conn.execute(sql, params).fetchall())

    async def _write_rows(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        if rows:
            await self._write(lambda conn: _execute_each(conn, sql, rows))

    async def put_raw(self, org: str, kind: str, items: dict[str, str]) -> None:
        check_raw_kind(kind)
        rows = [(org, kind, item_id, body) for item_id, body in items.items()]
        await self._write_rows(_PUT_RAW, rows)

    async def get_raw(self, org: str, kind: str) -> dict[str, str]:
        check_raw_kind(kind)
        sql = "SELECT item_id, body FROM raw_items WHERE org = ? AND kind = ?"
        return dict(await self._rows(sql, (org, kind)))

    async def raw_page(
        self, org: str, kind: str, offset: int, limit: int
    ) -> tuple[list[tuple[str, str]], int]:
        check_raw_kind(kind)
        page = "SELECT item_id, body FROM raw_items WHERE org = ? AND kind = ?"
        rows = await self._rows(page + " ORDER BY item_id LIMIT ? OFFSET ?",
                                (org, kind, limit, offset))  # fmt: skip
        count = "SELECT COUNT(*) FROM raw_items WHERE org = ? AND kind = ?"
        (total,) = (await self._rows(count, (org, kind)))[0]
        return [(str(k), str(v)) for k, v in rows], int(total)

    async def set_allowlist(self, org: str, channel_ids: Iterable[str]) -> None:
        rows = [(org, cid) for cid in sorted(set(channel_ids))]

        def replace(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM allowlist WHERE org = ?", (org,))
            conn.executemany("INSERT INTO allowlist VALUES (?, ?)", rows)

        await self._write(replace)

    async def allowlist(self, org: str) -> set[str]:
        rows = await self._rows("SELECT channel FROM allowlist WHERE org = ?", (org,))
        return {channel for (channel,) in rows}

    async def cursors(self, org: str) -> dict[str, str]:
        return dict(await self._rows("SELECT channel, ts FROM cursors WHERE org = ?", (org,)))

    async def claim_new(self, org: str, channel: str, ts_values: list[str]) -> list[str]:
        if not ts_values:
            return []
        rows = [(org, channel, ts, ts_score(ts)) for ts in ts_values]

        def claim(conn: sqlite3.Connection) -> list[str]:
            # One transaction holding the write lock: each ts is inserted by one caller only.
            return [ts for ts, row in zip(ts_values, rows, strict=True)
                    if conn.execute(_CLAIM, row).rowcount]  # fmt: skip

        return await self._write(claim)

    async def release(self, org: str, channel: str, ts_values: list[str]) -> None:
        rows = [(org, channel, ts) for ts in ts_values]
        await self._write_rows("DELETE FROM seen WHERE org = ? AND channel = ? AND ts = ?", rows)

    async def count_dropped(self, org: str, channel: str, dropped: int) -> None:
        if dropped:
            await self._write_rows(_ADD_DROPPED, [(org, channel, dropped)])

    async def dropped(self, org: str) -> dict[str, int]:
        return dict(await self._rows("SELECT channel, value FROM dropped WHERE org = ?", (org,)))

    async def counts(self, org: str, channel: str) -> dict[str, int]:
        sql = "SELECT name, value FROM counters WHERE org = ? AND channel = ?"
        return dict(await self._rows(sql, (org, channel)))

    async def _add_counts(self, org: str, channel: str, counts: dict[str, int]) -> None:
        rows = [(org, channel, name, value) for name, value in counts.items()]
        await self._write_rows(_ADD_COUNT, rows)

    async def _raise_cursor(self, org: str, channel: str, newest: str) -> str:
        def compare_and_set(conn: sqlite3.Connection) -> str:
            row = conn.execute(
                "SELECT ts FROM cursors WHERE org = ? AND channel = ?", (org, channel)
            ).fetchone()
            current: str | None = None if row is None else row[0]
            if not self.is_newer(newest, current):
                assert current is not None
                return current
            conn.execute(_SET_CURSOR, (org, channel, newest))
            return newest

        return await self._write(compare_and_set)

    async def synced_at(self, org: str) -> dict[str, float]:
        rows = await self._rows("SELECT channel, at FROM synced WHERE org = ?", (org,))
        return {channel: float(at) for channel, at in rows}

    async def _mark_synced(self, org: str, channel: str, at: float) -> None:
        await self._write_rows(_MARK_SYNCED, [(org, channel, at)])

    async def _forget_seen_below(self, org: str, channel: str, floor: float) -> None:
        sql = "DELETE FROM seen WHERE org = ? AND channel = ? AND score <= ?"
        await self._write_rows(sql, [(org, channel, floor)])


def _execute_each(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
    # Not executemany: with several connections writing one file, CPython 3.11's
    # executemany intermittently failed with "bad parameter or other API misuse"
    # (seen in the concurrent-advance test); one execute per row never did.
    for row in rows:
        conn.execute(sql, row)
