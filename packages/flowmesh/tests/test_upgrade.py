"""Data written by the previous FlowMesh version keeps working: SQLite files get
the new columns, and Redis streams stored before the time index still seek by time."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from flowmesh.server.store.records import Resource, RetryPolicy
from flowmesh.server.store.redis import RedisStore
from flowmesh.server.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration
STREAM = Resource("acme", "ns", "s")

# The tables the previous version created (only those this test touches).
PREVIOUS_SQLITE = """
CREATE TABLE resources (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL,
    UNIQUE (kind, path));
CREATE TABLE streams (stream_id INTEGER PRIMARY KEY, partitions INTEGER NOT NULL,
    retention_max_messages INTEGER NOT NULL, retention_max_age_ms INTEGER NOT NULL);
CREATE TABLE partitions (stream_id INTEGER NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (stream_id, partition)) WITHOUT ROWID;
CREATE TABLE messages (stream_id INTEGER NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, ts INTEGER NOT NULL, headers TEXT NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (stream_id, partition, offset)) WITHOUT ROWID;
CREATE TABLE queues (queue_id INTEGER PRIMARY KEY, next_seq INTEGER NOT NULL DEFAULT 1,
    completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL, initial_backoff_ms INTEGER NOT NULL,
    max_backoff_ms INTEGER NOT NULL, backoff_multiplier REAL NOT NULL, jitter REAL NOT NULL);
INSERT INTO resources VALUES (1, 'stream', 'acme/ns/s'), (2, 'queue', 'acme/ns/q');
INSERT INTO streams VALUES (1, 1, 0, 0);
INSERT INTO partitions VALUES (1, 0, 3);
INSERT INTO messages VALUES (1, 0, 0, 1000, '{}', X'6f6c6430'), (1, 0, 1, 1010, '{}', X'6f6c6431'),
    (1, 0, 2, 1020, '{}', X'6f6c6432');
INSERT INTO queues VALUES (2, 1, 0, 0, 4, 500, 9000, 3.0, 0.1);
"""


async def test_an_sqlite_file_of_the_previous_version_is_brought_up_to_date(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(PREVIOUS_SQLITE)
    store = SqliteStore(str(path))
    await store.open()
    try:
        old = await store.read(STREAM, 0, 0, 10, 1 << 20)
        assert [(m.offset, m.payload, m.schema_version) for m in old] == [
            (0, b"old0", 0),
            (1, b"old1", 0),
            (2, b"old2", 0),
        ]
        assert await store.seek_time(STREAM, 0, 1005) == 1
        assert await store.append(STREAM, [(b"new", {})], None) == [(0, 3)]
        policy = await store.retry_policy(Resource("acme", "ns", "q"))
        assert policy == RetryPolicy(4, 500, 9000, 3.0, 0.1, "exponential")
    finally:
        await store.close()


async def test_a_redis_stream_from_before_the_time_index_seeks_by_time(
    redis_url: str, redis_prefix: str
):
    prefix = f"{redis_prefix}old{uuid.uuid4().hex[:6]}:"
    store = RedisStore(redis_url, prefix=prefix)
    await store.open()
    raw = aioredis.Redis.from_url(redis_url)
    try:
        base = store._base("s", STREAM)
        await raw.hset(base + "cfg", "partitions", 1)
        # The previous layout: "<ts>\n<headers>\n<payload>", no time index.
        await raw.rpush(base + "p:0", *[b"%d\n{}\nold%d" % (1000 + 10 * i, i) for i in range(10)])
        assert await store.seek_time(STREAM, 0, 1035) == 4
        assert await store.seek_time(STREAM, 0, 0) == 0
        assert await store.append(STREAM, [(b"new", {})], None) == [(0, 10)]
        assert await store.seek_time(STREAM, 0, 1035) == 4  # old part, now ahead of the index
        assert await store.seek_time(STREAM, 0, 1095) == 10  # the new message, indexed
        messages = await store.read(STREAM, 0, 3, 20, 1 << 20)
        assert [(m.offset, m.timestamp_ms, m.payload) for m in messages[:2]] == [
            (3, 1030, b"old3"),
            (4, 1040, b"old4"),
        ]
        assert messages[-1].payload == b"new" and messages[-1].schema_version == 0
    finally:
        await raw.aclose()
        await store.close()
