"""The SQLite store's tables, and the columns added to files made by older versions."""

from __future__ import annotations

import sqlite3

TABLES = """
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    UNIQUE (kind, path)
);
CREATE TABLE IF NOT EXISTS streams (
    stream_id INTEGER PRIMARY KEY,
    partitions INTEGER NOT NULL,
    retention_max_messages INTEGER NOT NULL,
    retention_max_age_ms INTEGER NOT NULL
);
-- last_ts: the newest message's time; later messages never get an earlier one.
CREATE TABLE IF NOT EXISTS partitions (
    stream_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    last_ts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    stream_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
    stream_id INTEGER NOT NULL,
    grp TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (stream_id, grp, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queues (
    queue_id INTEGER PRIMARY KEY,
    next_seq INTEGER NOT NULL DEFAULT 1,
    completed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    initial_backoff_ms INTEGER NOT NULL,
    max_backoff_ms INTEGER NOT NULL,
    backoff_multiplier REAL NOT NULL,
    jitter REAL NOT NULL,
    backoff_strategy TEXT NOT NULL DEFAULT 'exponential'
);
-- state: 0 waiting (ready or delayed), 1 in flight, 2 dead-lettered.
-- visible_at: when a waiting job becomes due, or when an in-flight job's
-- visibility timeout ends.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    state INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL,
    failed_at INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (queue_id, visible_at, seq) WHERE state < 2;
CREATE INDEX IF NOT EXISTS jobs_dlq ON jobs (queue_id, failed_at) WHERE state = 2;
-- Covers the stats query, so it reads one queue's index entries, not the table.
CREATE INDEX IF NOT EXISTS jobs_stats ON jobs (queue_id, state, visible_at);
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL,
    dedup_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_id, dedup_id)
) WITHOUT ROWID;
-- Idempotent producers: each "<producer id>:<seq>" write's result (offsets as
-- JSON, or "<job id>:<seq>") for the dedup window; a retry returns it.
CREATE TABLE IF NOT EXISTS produced (
    resource_id INTEGER NOT NULL,
    producer TEXT NOT NULL,
    result TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (resource_id, producer)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS produced_expiry ON produced (expires_at);
-- Jobs acked within the window: a retried ack succeeds again.
CREATE TABLE IF NOT EXISTS acked (
    queue_id INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_id, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS acked_expiry ON acked (expires_at);
CREATE TABLE IF NOT EXISTS kv (
    store_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    expires_at INTEGER NOT NULL,  -- 0: never
    PRIMARY KEY (store_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at) WHERE expires_at > 0;
CREATE TABLE IF NOT EXISTS schemas (
    tenant TEXT NOT NULL,
    schema_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    definition BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (tenant, schema_id, version)
) WITHOUT ROWID;
-- The schema version a stream or queue checks writes against.
CREATE TABLE IF NOT EXISTS attachments (
    resource_id INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    schema_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    token TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_by_schema ON attachments (tenant, schema_id, version);
CREATE TABLE IF NOT EXISTS replay_sessions (
    id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    revision INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (stream, grp)
);
"""

# Columns later versions added to tables an older file already has.
_ADDED_COLUMNS = {
    "partitions": [("last_ts", "INTEGER NOT NULL DEFAULT 0")],
    "messages": [("schema_version", "INTEGER NOT NULL DEFAULT 0")],
    "queues": [("backoff_strategy", "TEXT NOT NULL DEFAULT 'exponential'")],
}

# The time index: a time seek is one index probe, not a scan.
INDEXES = "CREATE INDEX IF NOT EXISTS messages_ts ON messages (stream_id, partition, ts);"


def setup(conn: sqlite3.Connection) -> None:
    """Create what is missing; bring an older file's tables up to date."""
    conn.executescript(TABLES)
    for table, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns:
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
    conn.executescript(INDEXES)
    from flowmesh.server.store.sqlite_admin import ACCESS_TABLE

    conn.executescript(ACCESS_TABLE)
