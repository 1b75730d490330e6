"""The SDK's data: what goes in (events) and what comes back (messages, jobs, stats)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field


def _from_ms(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


class Event(BaseModel):
    """One stream event to write. A ``key`` header picks the partition by hash."""

    model_config = ConfigDict(frozen=True)

    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)


class Message(BaseModel):
    """A stored stream event, with where and when it was written."""

    model_config = ConfigDict(frozen=True)

    partition: int
    offset: int
    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)
    timestamp_ms: int = 0

    @property
    def timestamp(self) -> datetime | None:
        return _from_ms(self.timestamp_ms)


class Job(BaseModel):
    """A queued job as a worker (or the dead-letter listing) sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    seq: int
    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)
    attempts: int = 0
    enqueued_at_ms: int = 0
    visible_at_ms: int = 0
    # Set on jobs from list_dlq_jobs: where it failed, when, and the last error.
    original_queue: str = ""
    failed_at_ms: int = 0
    last_error: str = ""

    @property
    def enqueued_at(self) -> datetime | None:
        return _from_ms(self.enqueued_at_ms)

    @property
    def failed_at(self) -> datetime | None:
        return _from_ms(self.failed_at_ms)


class QueueStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    pending_jobs: int = 0
    delayed_jobs: int = 0
    in_flight_jobs: int = 0
    dlq_jobs: int = 0
    completed_jobs: int = 0
    failed_jobs: int = 0
    oldest_pending_age_ms: int = 0

    @property
    def oldest_pending_age(self) -> timedelta:
        return timedelta(milliseconds=self.oldest_pending_age_ms)


class RetryPolicy(BaseModel):
    """How a queue retries a nacked or timed-out job before dead-lettering it.

    A job is delivered at most ``max_attempts`` times. After the n-th failure
    it waits ``min(max_backoff, initial_backoff * backoff_multiplier**(n-1))``,
    spread by +/- ``jitter`` (a fraction) so retries of many jobs do not align.
    """

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(seconds=60)
    backoff_multiplier: float = Field(default=2.0, ge=1.0, le=100.0)
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)


class ConsumerGroupState(BaseModel):
    """Where a consumer group is on one partition (offsets are -1 when there are none)."""

    model_config = ConfigDict(frozen=True)

    consumer_group: str
    partition: int
    committed_offset: int
    latest_offset: int
    lag: int
