"""What stores keep and hand back: plain records, free of any transport.

Times are unix milliseconds; ``0`` means "not set".
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Resource:
    """A stream, queue or KV store: tenant, namespace and name (each a checked name)."""

    tenant: str
    namespace: str
    name: str

    @property
    def path(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.name}"

    def typed_path(self, kind: str) -> str:
        """The published form, ``tenant/namespace/<kind>/name``."""
        return f"{self.tenant}/{self.namespace}/{kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class DLQCursor:
    """Where a dead-letter listing left off: the last listed job's failure time,
    sequence number and id (the DLQ is ordered by failure time, then seq/id)."""

    failed_at_ms: int
    seq: int
    job_id: str


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
    schema_version: int = 0

    @property
    def size(self) -> int:
        """Roughly what the message costs on the wire (for response byte caps)."""
        return len(self.payload) + sum(len(k) + len(v) for k, v in self.headers.items()) + 64


@dataclass(slots=True)
class StoredJob:
    id: str
    seq: int
    payload: bytes
    headers: dict[str, str]
    attempts: int
    enqueued_at_ms: int
    visible_at_ms: int  # when it became (or becomes) deliverable
    reserve_until_ms: int = 0  # end of the visibility timeout of this delivery
    original_queue: str = ""
    failed_at_ms: int = 0
    last_error: str = ""


BACKOFF_STRATEGIES = ("fixed", "linear", "exponential")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5  # 0: unlimited
    initial_backoff_ms: int = 1_000
    max_backoff_ms: int = 60_000
    backoff_multiplier: float = 2.0
    jitter: float = 0.2  # +/- this fraction of the backoff
    backoff_strategy: str = "exponential"


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: str
    seq: int
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Producer:
    """Who sent a write and its number: the idempotent producer. A store keeps each
    pair's result for ``window_ms``; the same pair again returns that result and
    writes nothing."""

    id: str
    seq: int
    window_ms: int

    @property
    def key(self) -> str:
        return f"{self.id}:{self.seq}"


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
    total_jobs: int = 0


@dataclass(slots=True)
class KeyPage:
    keys: list[str] = field(default_factory=list)
    next_after: str | None = None  # pass back as `after` for the next page


@dataclass(frozen=True, slots=True)
class SchemaRecord:
    """One registered version of a tenant's schema. ``fingerprint`` is drawn at
    registration, so a version deleted and registered again is told apart."""

    tenant: str
    schema_id: str
    version: int
    schema_type: str
    definition: bytes
    created_at_ms: int
    fingerprint: str

    @property
    def token(self) -> str:
        """What a resource stores to say "checked against this version"."""
        return f"{self.schema_id}@{self.version}#{self.fingerprint}"


def token_version(token: str) -> int:
    """The version named by an attachment token (0 for "no schema")."""
    if not token:
        return 0
    return int(token.rsplit("@", 1)[1].split("#", 1)[0])


def token_schema_id(token: str) -> str:
    return token.rsplit("@", 1)[0] if token else ""


@dataclass(slots=True)
class ReplayRecord:
    """A replay session as stored. ``revision`` grows with every update, so
    concurrent updaters (two subscribers, two servers) never overwrite each other."""

    session_id: str
    tenant: str
    namespace: str
    stream: str  # the stream's name
    partition: int
    sandbox_group: str
    start_offset: int
    end_offset: int  # inclusive
    start_time_ms: int = 0  # set when the range was given by time
    end_time_ms: int = 0
    max_rate: int = 0  # messages per second, 0: unpaced
    next_release_ms: int = 0  # paced sessions release their next batch from then on
    status: str = "created"
    cursor: int = 0  # next offset to deliver
    replayed: int = 0
    errors: int = 0
    created_at_ms: int = 0
    updated_at_ms: int = 0
    started_at_ms: int = 0
    paused_at_ms: int = 0
    completed_at_ms: int = 0
    revision: int = 0

    @property
    def resource(self) -> Resource:
        return Resource(self.tenant, self.namespace, self.stream)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ReplayRecord:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


def partition_for(headers: dict[str, str], partitions: int) -> int:
    """The partition an event without an explicit one goes to: its "key" header's hash."""
    key = headers.get("key")
    if key is None or partitions <= 1:
        return 0
    return zlib.crc32(key.encode()) % partitions


def stream_topic(stream: Resource, partition: int) -> str:
    return f"s:{stream.path}:{partition}"


def queue_topic(queue: Resource) -> str:
    return f"q:{queue.path}"


def replay_topic(session_id: str) -> str:
    return f"r:{session_id}"
