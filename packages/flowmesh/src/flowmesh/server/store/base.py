"""The storage interface every FlowMesh store implements, and the records it returns.

The gRPC layer validates input and checks tenancy; a store only keeps state.
Resources are addressed by :class:`Resource` (tenant, namespace, name), so one
tenant's data is keyed apart from another's in every store.
"""

from __future__ import annotations

import abc
import zlib
from dataclasses import dataclass, field

from flowmesh.server.notify import Notifier


class StoreError(Exception):
    """Base of the errors a store raises on purpose."""


class NotFound(StoreError):
    """The stream, queue, store, key or job does not exist."""


class Conflict(StoreError):
    """The request does not fit the resource's state (e.g. a partition out of range)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True, slots=True)
class Resource:
    tenant: str
    namespace: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class StreamConfig:
    partitions: int = 1
    retention_max_messages: int = 0  # 0: unlimited
    retention_max_age_ms: int = 0  # 0: unlimited


@dataclass(slots=True)
class StoredMessage:
    partition: int
    offset: int
    payload: bytes
    headers: dict[str, str]
    timestamp_ms: int


@dataclass(slots=True)
class StoredJob:
    id: str
    seq: int
    payload: bytes
    headers: dict[str, str]
    attempts: int
    enqueued_at_ms: int
    visible_at_ms: int
    original_queue: str = ""
    failed_at_ms: int = 0
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_backoff_ms: int = 1_000
    max_backoff_ms: int = 60_000
    backoff_multiplier: float = 2.0
    jitter: float = 0.2  # +/- this fraction of the backoff


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: str
    seq: int
    duplicate: bool = False


@dataclass(slots=True)
class Reserved:
    jobs: list[StoredJob]
    # When the next delayed or in-flight job becomes deliverable (unix ms), if any.
    next_due_ms: int | None = None


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending_jobs: int = 0
    delayed_jobs: int = 0
    in_flight_jobs: int = 0
    dlq_jobs: int = 0
    completed_jobs: int = 0
    failed_jobs: int = 0
    oldest_pending_age_ms: int = 0


@dataclass(slots=True)
class KeyPage:
    keys: list[str] = field(default_factory=list)
    next_after: str | None = None  # pass back as `after` for the next page


def stream_topic(stream: Resource, partition: int) -> str:
    return f"s:{stream.path}:{partition}"


def queue_topic(queue: Resource) -> str:
    return f"q:{queue.path}"


class Store(abc.ABC):
    """Durable state of streams, queues and KV stores.

    Every method is atomic: it either fully applies or raises. Writes create
    the resource on first use; reads of an unknown resource raise
    :class:`NotFound`. After a write that others may wait for, the store
    calls ``self.notifier.notify`` (for every server sharing the store).
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
        self, stream: Resource, events: list[tuple[bytes, dict[str, str]]], partition: int | None
    ) -> list[tuple[int, int]]:
        """Append events; return (partition, offset) of each, in order."""

    @abc.abstractmethod
    async def read(
        self, stream: Resource, partition: int, offset: int, limit: int
    ) -> list[StoredMessage]:
        """Messages from ``offset`` on (the oldest retained when it was trimmed)."""

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
    ) -> Enqueued: ...

    @abc.abstractmethod
    async def reserve(self, queue: Resource, max_jobs: int, visibility_ms: int) -> Reserved:
        """Deliver up to ``max_jobs`` due jobs (never blocks)."""

    @abc.abstractmethod
    async def ack(self, queue: Resource, job_id: str) -> None: ...

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
    async def list_dlq(self, queue: Resource, limit: int) -> list[StoredJob]: ...

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


def partition_for(headers: dict[str, str], partitions: int) -> int:
    """The partition an event without an explicit one goes to: its "key" header's hash."""
    key = headers.get("key")
    if key is None or partitions <= 1:
        return 0
    return zlib.crc32(key.encode()) % partitions
