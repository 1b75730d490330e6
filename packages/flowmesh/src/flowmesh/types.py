"""The SDK's data: what goes in (events, retry policies) and what comes back
(messages, jobs, statistics, schemas, replay sessions).

Field names follow the published protocol; times come back as timezone-aware
UTC datetimes. Our richer fields (millisecond durations, jitter, dead-letter
metadata, delayed and DLQ counts) sit next to them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ConsumerGroupState",
    "DLQPage",
    "Event",
    "Job",
    "KVStoreInfo",
    "KVStorePage",
    "KeyPage",
    "Message",
    "QueueInfo",
    "QueuePage",
    "QueueStats",
    "ReplayProgress",
    "ReplaySession",
    "RetryPolicy",
    "Schema",
    "StreamInfo",
    "StreamPage",
]

BackoffStrategy = Literal["fixed", "linear", "exponential"]


def _ms(dt: datetime | None) -> int:
    return round(dt.timestamp() * 1000) if dt is not None else 0


class Event(BaseModel):
    """One stream event to write. A ``key`` header picks the partition by hash."""

    model_config = ConfigDict(frozen=True)

    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)


class Message(BaseModel):
    """A stored stream event, with where and when it was written."""

    model_config = ConfigDict(frozen=True)

    id: str = ""
    resource_path: str = ""  # "tenant/namespace/stream/name"
    partition: int = 0
    offset: int
    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None
    schema_version: int = 0  # the schema version it was checked against; 0: none

    @property
    def timestamp(self) -> datetime | None:
        return self.created_at

    @property
    def timestamp_ms(self) -> int:
        return _ms(self.created_at)


class Job(BaseModel):
    """A queued job as a worker (or the dead-letter listing) sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    resource_path: str = ""  # "tenant/namespace/queue/name"
    seq: int
    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None  # enqueued
    visible_at: datetime | None = None  # became (or becomes) deliverable
    reserve_until: datetime | None = None  # end of this delivery's visibility timeout
    attempts: int = 0
    # Set on jobs from list_dlq_jobs: where it failed, when, and the last error.
    original_queue: str = ""
    failed_at: datetime | None = None
    last_error: str = ""

    @property
    def enqueued_at(self) -> datetime | None:
        return self.created_at

    @property
    def enqueued_at_ms(self) -> int:
        return _ms(self.created_at)

    @property
    def visible_at_ms(self) -> int:
        return _ms(self.visible_at)

    @property
    def failed_at_ms(self) -> int:
        return _ms(self.failed_at)


class QueueStats(BaseModel):
    """Jobs by state. ``pending_jobs`` are due now (including ones whose visibility
    timeout ran out), ``delayed_jobs`` wait for their time, ``in_flight_jobs`` are
    reserved. ``oldest_job_age_seconds`` (and ``oldest_pending_age_ms``) is how long
    the longest-waiting due job has been due."""

    model_config = ConfigDict(frozen=True)

    total_jobs: int = 0
    pending_jobs: int = 0
    in_flight_jobs: int = 0
    completed_jobs: int = 0
    failed_jobs: int = 0
    oldest_job_age_seconds: int = 0
    delayed_jobs: int = 0
    dlq_jobs: int = 0
    oldest_pending_age_ms: int = 0

    @property
    def oldest_pending_age(self) -> timedelta:
        return timedelta(milliseconds=self.oldest_pending_age_ms)


class RetryPolicy(BaseModel):
    """How a queue retries a nacked or timed-out job before dead-lettering it.

    A job is delivered at most ``max_attempts`` times (0: unlimited). After the
    n-th failure it waits ``initial_backoff`` (``fixed``), ``initial_backoff * n``
    (``linear``) or ``initial_backoff * backoff_multiplier**(n-1)``
    (``exponential``), at most ``max_backoff``, spread by +/- ``jitter`` (a
    fraction) so retries of many jobs do not align. ``initial_backoff_seconds``
    and ``max_backoff_seconds`` are accepted (and read) as in the published API.
    """

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=5, ge=0, le=100)
    initial_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(seconds=60)
    backoff_multiplier: float = Field(default=2.0, ge=1.0, le=100.0)
    backoff_strategy: BackoffStrategy = "exponential"
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _published_seconds(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for name in ("initial_backoff", "max_backoff"):
                seconds = data.pop(f"{name}_seconds", None)
                if seconds is not None:
                    data.setdefault(name, timedelta(seconds=seconds))
        return data

    @property
    def initial_backoff_seconds(self) -> float:
        return self.initial_backoff.total_seconds()

    @property
    def max_backoff_seconds(self) -> float:
        return self.max_backoff.total_seconds()


class ConsumerGroupState(BaseModel):
    """Where a consumer group is on one partition (offsets are -1 when there are none)."""

    model_config = ConfigDict(frozen=True)

    stream: str  # "tenant/namespace/stream/name"
    group: str
    partition: int
    committed_offset: int
    latest_offset: int
    lag: int

    @property
    def consumer_group(self) -> str:
        return self.group


class Schema(BaseModel):
    """One registered version of a JSON Schema."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str = "jsonschema"
    version: int
    definition: bytes
    created_at: datetime | None = None


class ReplayProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    current_offset: int = 0  # the next offset to deliver
    messages_replayed: int = 0  # delivered to the sandbox group
    errors: int = 0  # offsets of the range no longer stored
    started_at: datetime | None = None
    paused_at: datetime | None = None
    completed_at: datetime | None = None


class ReplaySession(BaseModel):
    """A replay of a stream partition's range to a sandbox consumer group.

    ``status``: created, active, paused, stopped, completed or error.
    """

    model_config = ConfigDict(frozen=True)

    session_id: str
    stream: str  # "tenant/namespace/stream/name"
    partition: int = 0
    start_offset: int
    end_offset: int  # inclusive
    start_timestamp: datetime | None = None
    end_timestamp: datetime | None = None
    sandbox_consumer_group: str
    status: str
    progress: ReplayProgress = Field(default_factory=ReplayProgress)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    max_messages_per_second: int = 0


class StreamInfo(BaseModel):
    """A stream in a listing: its partitions, each one's latest offset (-1 when
    empty) and how many messages were ever written to it."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    name: str
    partitions: int = 1
    latest_offsets: list[int] = Field(default_factory=list)
    messages: int = 0
    retention_max_messages: int = 0
    retention_max_age_ms: int = 0


class QueueInfo(BaseModel):
    """A queue in a listing, with its statistics."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    name: str
    stats: QueueStats


class KeyPage(BaseModel):
    """One page of a KV key listing; pass ``next_page_token`` back for the next one
    ("" on the last page)."""

    model_config = ConfigDict(frozen=True)

    keys: list[str]
    next_page_token: str = ""


class KVStoreInfo(BaseModel):
    """A KV store in a listing, with how many keys it holds."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    name: str
    keys: int = 0


class StreamPage(BaseModel):
    """One page of a stream listing; pass ``next_page_token`` back for the next
    one ("" on the last page)."""

    model_config = ConfigDict(frozen=True)

    streams: list[StreamInfo]
    next_page_token: str = ""


class QueuePage(BaseModel):
    """One page of a queue listing (``next_page_token`` "" on the last page)."""

    model_config = ConfigDict(frozen=True)

    queues: list[QueueInfo]
    next_page_token: str = ""


class KVStorePage(BaseModel):
    """One page of a KV store listing (``next_page_token`` "" on the last page)."""

    model_config = ConfigDict(frozen=True)

    stores: list[KVStoreInfo]
    next_page_token: str = ""


class DLQPage(BaseModel):
    """One page of a queue's dead-lettered jobs, oldest failure first
    (``next_page_token`` "" on the last page)."""

    model_config = ConfigDict(frozen=True)

    jobs: list[Job]
    next_page_token: str = ""
