"""The storage interface every FlowMesh store implements.

The operations layer validates input and checks tenancy; a store only keeps
state. Resources are addressed by :class:`Resource` (tenant, namespace,
name), so one tenant's data is keyed apart from another's in every store.
The records live in :mod:`flowmesh.server.store.records` (re-exported here).
"""

from __future__ import annotations

import abc

from flowmesh.server.errors import Conflict, NotFound, SchemaChanged
from flowmesh.server.notify import Notifier
from flowmesh.server.store.records import (
    BACKOFF_STRATEGIES,
    DLQCursor,
    Enqueued,
    KeyPage,
    Producer,
    QueueStats,
    ReplayRecord,
    Reserved,
    Resource,
    RetryPolicy,
    SchemaRecord,
    StoredJob,
    StoredMessage,
    StreamConfig,
    partition_for,
    queue_topic,
    replay_topic,
    stream_topic,
)
from flowmesh.server.tokens import TokenRecord

__all__ = [
    "BACKOFF_STRATEGIES",
    "Conflict",
    "DLQCursor",
    "Enqueued",
    "KeyPage",
    "NotFound",
    "Producer",
    "QueueStats",
    "ReplayRecord",
    "Reserved",
    "Resource",
    "RetryPolicy",
    "SchemaChanged",
    "SchemaRecord",
    "Store",
    "StoredJob",
    "StoredMessage",
    "StreamConfig",
    "partition_for",
    "queue_topic",
    "replay_topic",
    "stream_topic",
]


class Store(abc.ABC):
    """Durable state of streams, queues, KV stores, schemas and replay sessions.

    Every method is atomic: it either fully applies or raises. Writes create
    the resource on first use; reads of an unknown resource raise
    :class:`NotFound`. After a write that others may wait for, the store
    calls ``self.notifier.notify`` (for every server sharing the store).

    Writes to a stream or queue name the schema attachment the caller checked
    the payloads against (its token, "" for none); when the resource holds
    another one the store writes nothing and raises :class:`SchemaChanged`.
    """

    notifier: Notifier
    kind: str

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the store (schema, scripts, listeners)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the backing store does not answer."""

    # -- streams
    @abc.abstractmethod
    async def configure_stream(self, stream: Resource, config: StreamConfig) -> StreamConfig: ...

    @abc.abstractmethod
    async def append(
        self,
        stream: Resource,
        events: list[tuple[bytes, dict[str, str]]],
        partition: int | None,
        schema_token: str = "",
        producer: Producer | None = None,
    ) -> list[tuple[int, int]]:
        """Append events; return (partition, offset) of each, in order. Each
        partition's timestamps never go back, so a time seek finds one place.
        With ``producer``, a pair seen within its window returns the first
        result and appends nothing (checked and recorded atomically with the write)."""

    @abc.abstractmethod
    async def read(
        self, stream: Resource, partition: int, offset: int, limit: int, max_bytes: int
    ) -> list[StoredMessage]:
        """Messages from ``offset`` on (the oldest retained when it was trimmed): up
        to ``limit``, stopping before the one that would pass ``max_bytes`` (the
        first is always returned)."""

    @abc.abstractmethod
    async def seek_time(self, stream: Resource, partition: int, timestamp_ms: int) -> int:
        """Offset of the first message written at or after ``timestamp_ms`` (the
        next offset to be written when there is none), from an index, not a scan."""

    @abc.abstractmethod
    async def latest_offset(self, stream: Resource, partition: int) -> int:
        """Offset of the last message written to the partition (-1 when none)."""

    @abc.abstractmethod
    async def commit_offset(
        self, stream: Resource, group: str, partition: int, offset: int
    ) -> None: ...

    @abc.abstractmethod
    async def committed_offset(self, stream: Resource, group: str, partition: int) -> int:
        """The group's last committed offset (-1 when it committed none)."""

    # -- queues
    @abc.abstractmethod
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
        """Add a job. With ``producer``, a pair seen within its window returns the
        first attempt's job (``duplicate`` False: it is the same request)."""

    @abc.abstractmethod
    async def reserve(self, queue: Resource, max_jobs: int, visibility_ms: int) -> Reserved:
        """Deliver up to ``max_jobs`` due jobs (never blocks)."""

    @abc.abstractmethod
    async def ack(self, queue: Resource, job_id: str, window_ms: int = 300_000) -> None:
        """Finish an in-flight job. Acking a job acked within ``window_ms`` succeeds
        again (a retried ack); NotFound when it is neither in flight nor acked."""

    @abc.abstractmethod
    async def nack(self, queue: Resource, job_id: str, delay_ms: int | None, error: str) -> bool:
        """Return an in-flight job; True when it went to the dead-letter queue."""

    @abc.abstractmethod
    async def queue_stats(self, queue: Resource) -> QueueStats: ...

    @abc.abstractmethod
    async def set_retry_policy(self, queue: Resource, policy: RetryPolicy) -> RetryPolicy: ...

    @abc.abstractmethod
    async def retry_policy(self, queue: Resource) -> RetryPolicy: ...

    @abc.abstractmethod
    async def list_dlq(
        self, queue: Resource, limit: int, after: DLQCursor | None = None
    ) -> list[StoredJob]:
        """Up to ``limit`` dead-lettered jobs in DLQ order (failure time, then
        seq), starting after ``after``."""

    @abc.abstractmethod
    async def replay_dlq(self, queue: Resource, job_id: str) -> Enqueued: ...

    # -- KV
    @abc.abstractmethod
    async def kv_set(self, store: Resource, key: str, value: bytes, ttl_ms: int) -> None: ...

    @abc.abstractmethod
    async def kv_get(self, store: Resource, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def kv_delete(self, store: Resource, key: str) -> bool: ...

    @abc.abstractmethod
    async def kv_list(self, store: Resource, prefix: str, limit: int, after: str) -> KeyPage: ...

    # -- schemas
    @abc.abstractmethod
    async def schema_register(self, record: SchemaRecord, next_version: bool) -> SchemaRecord:
        """Store a new version (``next_version``: numbered one above the latest,
        ignoring ``record.version``); AlreadyExists when the version exists."""

    @abc.abstractmethod
    async def schema_get(self, tenant: str, schema_id: str, version: int) -> SchemaRecord | None:
        """One version (0: the latest), or None."""

    @abc.abstractmethod
    async def schema_list(self, tenant: str, schema_id: str) -> list[SchemaRecord]:
        """The tenant's versions (of ``schema_id``, or of every schema when ""),
        ordered by schema id then version."""

    @abc.abstractmethod
    async def schema_delete(self, tenant: str, schema_id: str, version: int) -> None:
        """NotFound when missing; FailedPrecondition while a resource uses it."""

    @abc.abstractmethod
    async def schema_attach(
        self, kind: str, resource: Resource, record: SchemaRecord | None
    ) -> None:
        """Attach ``record`` to the stream or queue (creating it), or detach (None).
        NotFound when the version was deleted meanwhile."""

    @abc.abstractmethod
    async def schema_attachment(self, kind: str, resource: Resource) -> str:
        """The token attached to the stream or queue ("" for none or no resource)."""

    # -- replay sessions
    @abc.abstractmethod
    async def replay_create(self, record: ReplayRecord) -> None:
        """AlreadyExists when another session uses the same sandbox group on the stream."""

    @abc.abstractmethod
    async def replay_get(self, session_id: str) -> ReplayRecord | None: ...

    @abc.abstractmethod
    async def replay_list(self) -> list[ReplayRecord]: ...

    @abc.abstractmethod
    async def replay_find(self, stream: Resource, group: str) -> ReplayRecord | None:
        """The session whose sandbox group on ``stream`` is ``group``."""

    @abc.abstractmethod
    async def replay_update(self, record: ReplayRecord) -> bool:
        """Save ``record`` if the stored revision is still ``record.revision``
        (then bump it on the record and notify its topic); False otherwise."""

    @abc.abstractmethod
    async def replay_delete(self, session_id: str) -> bool: ...

    # -- listings (admin and dashboards, not hot paths)
    @abc.abstractmethod
    async def list_resources(self, kind: str) -> list[Resource]:
        """Every stream, queue or KV store (``kind``: stream, queue, kv) by path."""

    @abc.abstractmethod
    async def list_resources_page(
        self, kind: str, prefix: str, after: str, limit: int
    ) -> list[Resource]:
        """Up to ``limit`` resources of ``kind`` whose path starts with ``prefix``
        ("", "tenant/" or "tenant/namespace/") and sorts after ``after``, by path."""

    @abc.abstractmethod
    async def stream_config(self, stream: Resource) -> StreamConfig: ...

    @abc.abstractmethod
    async def list_groups(self, stream: Resource) -> list[tuple[str, int, int]]:
        """The stream's consumer groups: (group, partition, committed offset)."""

    @abc.abstractmethod
    async def kv_count(self, store: Resource) -> int:
        """How many keys the KV store holds."""

    # -- access tokens (only their hashes)
    @abc.abstractmethod
    async def token_put(self, record: TokenRecord) -> None:
        """Save (or replace) a token's record."""

    @abc.abstractmethod
    async def token_list(self) -> list[TokenRecord]: ...
