"""The embedded store: one SQLite file, durable when a call returns.

All writes run on one thread that owns the connection and group-commits them
(:mod:`.sqlite_worker`). With WAL and ``synchronous=FULL`` a call's result is
handed back only after its transaction is on disk. Schemas and replay
sessions live in :mod:`.sqlite_meta`; the tables in :mod:`.sqlite_schema`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flowmesh.server.notify import Notifier
from flowmesh.server.retry import backoff_ms, is_last_attempt
from flowmesh.server.store import sqlite_schema
from flowmesh.server.store.base import (
    Conflict,
    DLQCursor,
    Enqueued,
    KeyPage,
    NotFound,
    Producer,
    QueueStats,
    Reserved,
    Resource,
    RetryPolicy,
    SchemaChanged,
    Store,
    StoredJob,
    StoredMessage,
    StreamConfig,
    partition_for,
    queue_topic,
    stream_topic,
)
from flowmesh.server.store.sqlite_admin import SqliteAdminMixin
from flowmesh.server.store.sqlite_meta import SqliteMetaMixin
from flowmesh.server.store.sqlite_worker import Op, Worker


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dump_headers(headers: dict[str, str]) -> str:
    return json.dumps(headers, separators=(",", ":")) if headers else "{}"


def _load_headers(text: str) -> dict[str, str]:
    return json.loads(text) if text != "{}" else {}


class SqliteStore(SqliteAdminMixin, SqliteMetaMixin, Store):
    kind = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.notifier = Notifier()
        # Resource ids never change, and this process owns the file: cache them
        # (forgotten when a whole transaction rolls back).
        self._ids: dict[tuple[str, str], int] = {}
        self._worker = Worker(path, sqlite_schema.setup, self._ids.clear)
        self._reader: sqlite3.Connection | None = None
        # Reads whose cost grows with the data (queue statistics) run on a thread
        # over a connection of their own, so they never hold up the event loop;
        # concurrent requests for one queue's statistics share one run.
        self._slow: sqlite3.Connection | None = None
        self._slow_lock = threading.Lock()
        self._stats_runs: dict[str, asyncio.Future[QueueStats]] = {}
        self._sets = 0
        self._writes = 0

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._worker.start)
        # Reads run right on the event loop over their own connection: a point
        # lookup costs less than the hop to the writer thread, and WAL gives
        # them the last committed state without waiting behind a commit.
        self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._reader.execute("PRAGMA query_only=1")
        self._slow = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._slow.execute("PRAGMA query_only=1")

    async def close(self) -> None:
        await asyncio.to_thread(self._worker.stop)
        if self._reader is not None:
            self._reader.close()
        with self._slow_lock:
            if self._slow is not None:
                self._slow.close()
                self._slow = None

    def _read(self, op: Op) -> Any:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return op(self._reader)

    def _sweep_due(self) -> bool:
        """Every 256th write also drops expired producer and ack records."""
        self._writes += 1
        return self._writes % 256 == 0

    async def _read_off_loop(self, op: Op) -> Any:
        def run() -> Any:
            with self._slow_lock:
                if self._slow is None:
                    raise RuntimeError("store is not open")
                return op(self._slow)

        return await asyncio.to_thread(run)

    async def ping(self) -> None:
        await self._worker.call(lambda c: c.execute("SELECT 1").fetchone())

    # -- resource ids (called on the worker thread)
    def _lookup(self, conn: sqlite3.Connection, kind: str, res: Resource) -> int | None:
        cached = self._ids.get((kind, res.path))
        if cached is not None:
            return cached
        row = conn.execute(
            "SELECT id FROM resources WHERE kind=? AND path=?", (kind, res.path)
        ).fetchone()
        if row is None:
            return None
        self._ids[(kind, res.path)] = row[0]
        return int(row[0])

    def _require(self, conn: sqlite3.Connection, kind: str, res: Resource) -> int:
        rid = self._lookup(conn, kind, res)
        if rid is None:
            raise NotFound(f"{kind} {res.path!r} does not exist")
        return rid

    def _ensure(self, conn: sqlite3.Connection, kind: str, res: Resource) -> int:
        rid = self._lookup(conn, kind, res)
        if rid is not None:
            return rid
        cur = conn.execute("INSERT INTO resources (kind, path) VALUES (?, ?)", (kind, res.path))
        rid = int(cur.lastrowid or 0)
        if kind == "stream":
            conn.execute(
                "INSERT INTO streams VALUES (?, ?, ?, ?)",
                (rid, *_config_row(StreamConfig())),
            )
        elif kind == "queue":
            conn.execute(
                "INSERT INTO queues (queue_id, max_attempts, initial_backoff_ms, max_backoff_ms,"
                " backoff_multiplier, jitter, backoff_strategy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rid, *_policy_row(RetryPolicy())),
            )
        # Cached by the next lookup, once it is visible in the transaction.
        return rid

    # -- streams
    async def configure_stream(self, stream: Resource, config: StreamConfig) -> StreamConfig:
        def op(conn: sqlite3.Connection) -> StreamConfig:
            sid = self._ensure(conn, "stream", stream)
            current = _stream_config(conn, sid)
            if config.partitions < current.partitions:
                raise Conflict(
                    "partitions",
                    f"partitions: stream has {current.partitions}, cannot shrink "
                    f"to {config.partitions}",
                )
            conn.execute(
                "UPDATE streams SET partitions=?, retention_max_messages=?,"
                " retention_max_age_ms=? WHERE stream_id=?",
                (*_config_row(config), sid),
            )
            return config

        result: StreamConfig = await self._worker.call(op)
        return result

    async def append(
        self,
        stream: Resource,
        events: list[tuple[bytes, dict[str, str]]],
        partition: int | None,
        schema_token: str = "",
        producer: Producer | None = None,
    ) -> list[tuple[int, int]]:
        now = _now_ms()
        sweep = self._sweep_due()

        def op(conn: sqlite3.Connection) -> list[tuple[int, int]]:
            sid = self._ensure(conn, "stream", stream)
            if producer is not None:
                seen = _produced(conn, sid, producer, now)
                if seen is not None:
                    return [(int(p), int(o)) for p, o in json.loads(seen)]
            version = _check_schema(conn, sid, schema_token)
            config = _stream_config(conn, sid)
            if partition is not None and partition >= config.partitions:
                raise Conflict(
                    "partition",
                    f"partition: {partition} is out of range, stream has {config.partitions}",
                )
            targets = [
                partition if partition is not None else partition_for(h, config.partitions)
                for _, h in events
            ]
            heads: dict[int, tuple[int, int]] = {}  # partition -> (next offset, its time)
            for p in set(targets):
                row = conn.execute(
                    "SELECT next_offset, last_ts FROM partitions WHERE stream_id=? AND partition=?",
                    (sid, p),
                ).fetchone()
                # A clock that stepped back must not put a message before an older one.
                heads[p] = (int(row[0]), max(now, int(row[1]))) if row else (0, now)
            out: list[tuple[int, int]] = []
            rows = []
            for (payload, headers), p in zip(events, targets, strict=True):
                off, ts = heads[p]
                heads[p] = (off + 1, ts)
                rows.append((sid, p, off, ts, _dump_headers(headers), payload, version))
                out.append((p, off))
            conn.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.executemany(
                "INSERT INTO partitions VALUES (?, ?, ?, ?) ON CONFLICT (stream_id, partition)"
                " DO UPDATE SET next_offset=excluded.next_offset, last_ts=excluded.last_ts",
                [(sid, p, n, ts) for p, (n, ts) in heads.items()],
            )
            for p, (n, ts) in heads.items():
                _apply_retention(conn, sid, p, n, config, ts)
            if producer is not None:
                _remember(conn, sid, producer, json.dumps(out, separators=(",", ":")), now)
            if sweep:
                _sweep(conn, now)
            return out

        result: list[tuple[int, int]] = await self._worker.call(op)
        for p in {p for p, _ in result}:
            self.notifier.notify(stream_topic(stream, p))
        return result

    async def read(
        self, stream: Resource, partition: int, offset: int, limit: int, max_bytes: int
    ) -> list[StoredMessage]:
        def op(conn: sqlite3.Connection) -> list[StoredMessage]:
            sid = self._require(conn, "stream", stream)
            # Rows come off the cursor one at a time, so a byte cap bounds memory too.
            cursor = conn.execute(
                "SELECT offset, ts, headers, payload, schema_version FROM messages"
                " WHERE stream_id=? AND partition=? AND offset>=? ORDER BY offset LIMIT ?",
                (sid, partition, offset, limit),
            )
            out: list[StoredMessage] = []
            total = 0
            for r in cursor:
                msg = StoredMessage(partition, r[0], r[3], _load_headers(r[2]), r[1], r[4])
                total += msg.size
                if out and total > max_bytes:
                    break
                out.append(msg)
            cursor.close()
            return out

        result: list[StoredMessage] = self._read(op)
        return result

    async def seek_time(self, stream: Resource, partition: int, timestamp_ms: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            sid = self._require(conn, "stream", stream)
            row = conn.execute(
                "SELECT offset FROM messages WHERE stream_id=? AND partition=? AND ts>=?"
                " ORDER BY ts, offset LIMIT 1",
                (sid, partition, timestamp_ms),
            ).fetchone()
            return int(row[0]) if row else _next_offset(conn, sid, partition)

        result: int = self._read(op)
        return result

    async def latest_offset(self, stream: Resource, partition: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            sid = self._require(conn, "stream", stream)
            return _next_offset(conn, sid, partition) - 1

        result: int = self._read(op)
        return result

    async def commit_offset(
        self, stream: Resource, group: str, partition: int, offset: int
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            sid = self._ensure(conn, "stream", stream)
            conn.execute(
                "INSERT INTO group_offsets VALUES (?, ?, ?, ?) ON CONFLICT (stream_id, grp,"
                " partition) DO UPDATE SET offset=excluded.offset",
                (sid, group, partition, offset),
            )

        await self._worker.call(op)

    async def committed_offset(self, stream: Resource, group: str, partition: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            sid = self._require(conn, "stream", stream)
            row = conn.execute(
                "SELECT offset FROM group_offsets WHERE stream_id=? AND grp=? AND partition=?",
                (sid, group, partition),
            ).fetchone()
            return int(row[0]) if row else -1

        result: int = self._read(op)
        return result

    # -- queues
    async def enqueue(
        self,
        queue: Resource,
        payload: bytes,
        headers: dict[str, str],
        delay_ms: int,
        dedup_id: str,
        dedup_window_ms: int,
        schema_token: str = "",
        producer: Producer | None = None,
    ) -> Enqueued:
        now = _now_ms()
        sweep = self._sweep_due()

        def op(conn: sqlite3.Connection) -> Enqueued:
            qid = self._ensure(conn, "queue", queue)
            if producer is not None:
                seen = _produced(conn, qid, producer, now)
                if seen is not None:
                    first_id, _, first_seq = seen.partition(":")
                    return Enqueued(first_id, int(first_seq))
            _check_schema(conn, qid, schema_token)
            if dedup_id:
                row = conn.execute(
                    "SELECT job_id, seq, expires_at FROM dedup WHERE queue_id=? AND dedup_id=?",
                    (qid, dedup_id),
                ).fetchone()
                if row is not None and row[2] > now:
                    return Enqueued(row[0], row[1], duplicate=True)
            seq = conn.execute(
                "UPDATE queues SET next_seq=next_seq+1 WHERE queue_id=? RETURNING next_seq-1",
                (qid,),
            ).fetchone()[0]
            job_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO jobs (id, queue_id, seq, state, visible_at, attempts, enqueued_at,"
                " headers, payload) VALUES (?, ?, ?, 0, ?, 0, ?, ?, ?)",
                (job_id, qid, seq, now + delay_ms, now, _dump_headers(headers), payload),
            )
            if dedup_id:
                conn.execute(
                    "INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?)",
                    (qid, dedup_id, job_id, seq, now + dedup_window_ms),
                )
                if seq % 256 == 0:  # sweep expired ids now and then
                    conn.execute("DELETE FROM dedup WHERE queue_id=? AND expires_at<=?", (qid, now))
            if producer is not None:
                _remember(conn, qid, producer, f"{job_id}:{seq}", now)
            if sweep:
                _sweep(conn, now)
            return Enqueued(job_id, int(seq))

        result: Enqueued = await self._worker.call(op)
        if not result.duplicate:
            self.notifier.notify(queue_topic(queue), 1)
        return result

    async def reserve(self, queue: Resource, max_jobs: int, visibility_ms: int) -> Reserved:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> Reserved:
            qid = self._lookup(conn, "queue", queue)
            if qid is None:
                return Reserved([])
            policy = _policy(conn, qid)
            jobs: list[StoredJob] = []
            while len(jobs) < max_jobs:
                rows = conn.execute(
                    "SELECT id, seq, state, attempts, enqueued_at, headers, payload, visible_at"
                    " FROM jobs WHERE queue_id=? AND state<2 AND visible_at<=?"
                    " ORDER BY visible_at, seq LIMIT ?",
                    (qid, now, max_jobs - len(jobs)),
                ).fetchall()
                if not rows:
                    break
                for job_id, seq, state, attempts, enq, headers, payload, due in rows:
                    if state == 1 and is_last_attempt(policy, attempts):
                        _dead_letter(conn, qid, job_id, now, "visibility timeout expired")
                        continue
                    conn.execute(
                        "UPDATE jobs SET state=1, visible_at=?, attempts=attempts+1 WHERE id=?",
                        (now + visibility_ms, job_id),
                    )
                    jobs.append(
                        StoredJob(
                            job_id,
                            seq,
                            payload,
                            _load_headers(headers),
                            attempts + 1,
                            enq,
                            due,
                            now + visibility_ms,
                        )
                    )
            return Reserved(jobs, _next_due(conn, qid))

        result: Reserved = await self._worker.call(op)
        return result

    async def ack(self, queue: Resource, job_id: str, window_ms: int = 300_000) -> None:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> None:
            qid = self._require(conn, "queue", queue)
            cur = conn.execute(
                "DELETE FROM jobs WHERE id=? AND queue_id=? AND state=1", (job_id, qid)
            )
            if cur.rowcount == 0:
                again = conn.execute(
                    "SELECT 1 FROM acked WHERE queue_id=? AND job_id=? AND expires_at>?",
                    (qid, job_id, now),
                ).fetchone()
                if again is None:
                    raise NotFound(f"job {job_id!r} is not in flight on queue {queue.path!r}")
                return
            conn.execute("UPDATE queues SET completed=completed+1 WHERE queue_id=?", (qid,))
            conn.execute(
                "INSERT OR REPLACE INTO acked VALUES (?, ?, ?)", (qid, job_id, now + window_ms)
            )

        await self._worker.call(op)

    async def nack(self, queue: Resource, job_id: str, delay_ms: int | None, error: str) -> bool:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> bool:
            qid = self._require(conn, "queue", queue)
            row = conn.execute(
                "SELECT attempts FROM jobs WHERE id=? AND queue_id=? AND state=1", (job_id, qid)
            ).fetchone()
            if row is None:
                raise NotFound(f"job {job_id!r} is not in flight on queue {queue.path!r}")
            policy = _policy(conn, qid)
            attempts = int(row[0])
            if is_last_attempt(policy, attempts):
                _dead_letter(conn, qid, job_id, now, error or "nacked on the last attempt")
                return True
            wait = delay_ms if delay_ms is not None else backoff_ms(policy, attempts)
            conn.execute(
                "UPDATE jobs SET state=0, visible_at=?, last_error=? WHERE id=?",
                (now + wait, error, job_id),
            )
            return False

        result: bool = await self._worker.call(op)
        if not result:
            self.notifier.notify(queue_topic(queue), 1)
        return result

    async def queue_stats(self, queue: Resource) -> QueueStats:
        running = self._stats_runs.get(queue.path)
        if running is None:
            running = asyncio.ensure_future(self._queue_stats(queue))
            self._stats_runs[queue.path] = running
            running.add_done_callback(lambda _: self._stats_runs.pop(queue.path, None))
        return await asyncio.shield(running)

    async def _queue_stats(self, queue: Resource) -> QueueStats:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> QueueStats:
            qid = self._require(conn, "queue", queue)
            completed, failed, next_seq = conn.execute(
                "SELECT completed, failed, next_seq FROM queues WHERE queue_id=?", (qid,)
            ).fetchone()
            row = conn.execute(
                "SELECT"
                " COALESCE(SUM(state<2 AND visible_at<=?), 0),"
                " COALESCE(SUM(state=0 AND visible_at>?), 0),"
                " COALESCE(SUM(state=1 AND visible_at>?), 0),"
                " COALESCE(SUM(state=2), 0),"
                " MIN(CASE WHEN state<2 AND visible_at<=? THEN visible_at END)"
                " FROM jobs WHERE queue_id=?",
                (now, now, now, now, qid),
            ).fetchone()
            oldest = now - row[4] if row[4] is not None else 0
            return QueueStats(
                row[0], row[1], row[2], row[3], completed, failed, max(0, oldest), next_seq - 1
            )

        # Counting a queue's jobs walks its index: off the event loop.
        result: QueueStats = await self._read_off_loop(op)
        return result

    async def set_retry_policy(self, queue: Resource, policy: RetryPolicy) -> RetryPolicy:
        def op(conn: sqlite3.Connection) -> RetryPolicy:
            qid = self._ensure(conn, "queue", queue)
            conn.execute(
                "UPDATE queues SET max_attempts=?, initial_backoff_ms=?, max_backoff_ms=?,"
                " backoff_multiplier=?, jitter=?, backoff_strategy=? WHERE queue_id=?",
                (*_policy_row(policy), qid),
            )
            return policy

        result: RetryPolicy = await self._worker.call(op)
        return result

    async def retry_policy(self, queue: Resource) -> RetryPolicy:
        def op(conn: sqlite3.Connection) -> RetryPolicy:
            return _policy(conn, self._require(conn, "queue", queue))

        result: RetryPolicy = self._read(op)
        return result

    async def list_dlq(
        self, queue: Resource, limit: int, after: DLQCursor | None = None
    ) -> list[StoredJob]:
        def op(conn: sqlite3.Connection) -> list[StoredJob]:
            qid = self._require(conn, "queue", queue)
            since = (after.failed_at_ms, after.seq) if after else (-(2**62), -(2**62))
            rows = conn.execute(
                "SELECT id, seq, payload, headers, attempts, enqueued_at, visible_at, failed_at,"
                " last_error FROM jobs WHERE queue_id=? AND state=2 AND (failed_at, seq) > (?, ?)"
                " ORDER BY failed_at, seq LIMIT ?",
                (qid, *since, limit),
            ).fetchall()
            return [
                StoredJob(r[0], r[1], r[2], _load_headers(r[3]), r[4], r[5], r[6],
                          original_queue=queue.path, failed_at_ms=r[7], last_error=r[8])
                for r in rows
            ]  # fmt: skip

        result: list[StoredJob] = self._read(op)
        return result

    async def replay_dlq(self, queue: Resource, job_id: str) -> Enqueued:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> Enqueued:
            qid = self._require(conn, "queue", queue)
            row = conn.execute(
                "SELECT headers, payload FROM jobs WHERE id=? AND queue_id=? AND state=2",
                (job_id, qid),
            ).fetchone()
            if row is None:
                raise NotFound(f"job {job_id!r} is not in the dead-letter queue of {queue.path!r}")
            conn.execute("DELETE FROM jobs WHERE id=?", (job_id,))
            seq = conn.execute(
                "UPDATE queues SET next_seq=next_seq+1 WHERE queue_id=? RETURNING next_seq-1",
                (qid,),
            ).fetchone()[0]
            new_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO jobs (id, queue_id, seq, state, visible_at, attempts, enqueued_at,"
                " headers, payload) VALUES (?, ?, ?, 0, ?, 0, ?, ?, ?)",
                (new_id, qid, seq, now, now, row[0], row[1]),
            )
            return Enqueued(new_id, int(seq))

        result: Enqueued = await self._worker.call(op)
        self.notifier.notify(queue_topic(queue), 1)
        return result

    # -- KV
    async def kv_set(self, store: Resource, key: str, value: bytes, ttl_ms: int) -> None:
        expires = _now_ms() + ttl_ms if ttl_ms > 0 else 0

        self._sets += 1
        sweep = self._sets % 256 == 0
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> None:
            sid = self._ensure(conn, "kv", store)
            conn.execute(
                "INSERT INTO kv VALUES (?, ?, ?, ?) ON CONFLICT (store_id, key)"
                " DO UPDATE SET value=excluded.value, expires_at=excluded.expires_at",
                (sid, key, value, expires),
            )
            if sweep:  # expired values are invisible at once; reclaim their rows now and then
                conn.execute(
                    "DELETE FROM kv WHERE (store_id, key) IN (SELECT store_id, key FROM kv"
                    " WHERE expires_at>0 AND expires_at<=? LIMIT 500)",
                    (now,),
                )

        await self._worker.call(op)

    async def kv_get(self, store: Resource, key: str) -> bytes | None:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> bytes | None:
            sid = self._require(conn, "kv", store)
            row = conn.execute(
                "SELECT value FROM kv WHERE store_id=? AND key=?"
                " AND (expires_at=0 OR expires_at>?)",
                (sid, key, now),
            ).fetchone()
            return None if row is None else bytes(row[0])

        result: bytes | None = self._read(op)
        return result

    async def kv_delete(self, store: Resource, key: str) -> bool:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> bool:
            sid = self._lookup(conn, "kv", store)
            if sid is None:
                return False
            row = conn.execute(
                "DELETE FROM kv WHERE store_id=? AND key=? RETURNING expires_at", (sid, key)
            ).fetchone()
            return row is not None and not (row[0] and row[0] <= now)

        result: bool = await self._worker.call(op)
        return result

    async def kv_list(self, store: Resource, prefix: str, limit: int, after: str) -> KeyPage:
        now = _now_ms()

        def op(conn: sqlite3.Connection) -> KeyPage:
            sid = self._require(conn, "kv", store)
            start = max(prefix, after)
            cmp = ">" if after and after >= prefix else ">="
            rows = conn.execute(
                f"SELECT key FROM kv WHERE store_id=? AND key{cmp}? AND substr(key, 1, ?)=?"  # noqa: S608
                " AND (expires_at=0 OR expires_at>?) ORDER BY key LIMIT ?",
                (sid, start, len(prefix), prefix, now, limit + 1),
            ).fetchall()
            keys = [r[0] for r in rows[:limit]]
            return KeyPage(keys, keys[-1] if len(rows) > limit else None)

        result: KeyPage = self._read(op)
        return result


def _config_row(config: StreamConfig) -> tuple[int, int, int]:
    return (config.partitions, config.retention_max_messages, config.retention_max_age_ms)


def _stream_config(conn: sqlite3.Connection, sid: int) -> StreamConfig:
    row = conn.execute(
        "SELECT partitions, retention_max_messages, retention_max_age_ms FROM streams"
        " WHERE stream_id=?",
        (sid,),
    ).fetchone()
    return StreamConfig(*row)


def _next_offset(conn: sqlite3.Connection, sid: int, partition: int) -> int:
    row = conn.execute(
        "SELECT next_offset FROM partitions WHERE stream_id=? AND partition=?", (sid, partition)
    ).fetchone()
    return int(row[0]) if row else 0


def _apply_retention(
    conn: sqlite3.Connection,
    sid: int,
    partition: int,
    next_offset: int,
    config: StreamConfig,
    now: int,
) -> None:
    if config.retention_max_messages > 0:
        conn.execute(
            "DELETE FROM messages WHERE stream_id=? AND partition=? AND offset<?",
            (sid, partition, next_offset - config.retention_max_messages),
        )
    if config.retention_max_age_ms > 0:
        conn.execute(
            "DELETE FROM messages WHERE stream_id=? AND partition=? AND ts<?",
            (sid, partition, now - config.retention_max_age_ms),
        )


def _produced(conn: sqlite3.Connection, rid: int, producer: Producer, now: int) -> str | None:
    """The result an idempotent producer's write already had, if within its window."""
    row = conn.execute(
        "SELECT result FROM produced WHERE resource_id=? AND producer=? AND expires_at>?",
        (rid, producer.key, now),
    ).fetchone()
    return None if row is None else str(row[0])


def _remember(
    conn: sqlite3.Connection, rid: int, producer: Producer, result: str, now: int
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO produced VALUES (?, ?, ?, ?)",
        (rid, producer.key, result, now + producer.window_ms),
    )


def _sweep(conn: sqlite3.Connection, now: int) -> None:
    conn.execute("DELETE FROM produced WHERE expires_at<=?", (now,))
    conn.execute("DELETE FROM acked WHERE expires_at<=?", (now,))


def _next_due(conn: sqlite3.Connection, qid: int) -> int | None:
    """When the next waiting or in-flight job falls due: one index probe per state
    (``state<2`` in one query would walk every pending job's index entry)."""
    due = [
        row[0]
        for state in (0, 1)
        for row in conn.execute(
            "SELECT MIN(visible_at) FROM jobs WHERE queue_id=? AND state=?", (qid, state)
        )
        if row[0] is not None
    ]
    return min(due) if due else None


def _policy(conn: sqlite3.Connection, qid: int) -> RetryPolicy:
    row = conn.execute(
        "SELECT max_attempts, initial_backoff_ms, max_backoff_ms, backoff_multiplier, jitter,"
        " backoff_strategy FROM queues WHERE queue_id=?",
        (qid,),
    ).fetchone()
    return RetryPolicy(*row)


def _policy_row(p: RetryPolicy) -> tuple[int, int, int, float, float, str]:
    return (p.max_attempts, p.initial_backoff_ms, p.max_backoff_ms, p.backoff_multiplier,
            p.jitter, p.backoff_strategy)  # fmt: skip


def _check_schema(conn: sqlite3.Connection, rid: int, expected: str) -> int:
    """The attached schema version, after checking the caller validated against it."""
    row = conn.execute(
        "SELECT token, version FROM attachments WHERE resource_id=?", (rid,)
    ).fetchone()
    current = row[0] if row else ""
    if current != expected:
        raise SchemaChanged(current)
    return int(row[1]) if row else 0


def _dead_letter(conn: sqlite3.Connection, qid: int, job_id: str, now: int, error: str) -> None:
    conn.execute(
        "UPDATE jobs SET state=2, failed_at=?, last_error=? WHERE id=?", (now, error, job_id)
    )
    conn.execute("UPDATE queues SET failed=failed+1 WHERE queue_id=?", (qid,))
