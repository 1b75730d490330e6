"""Webhook delivery settings, read from the environment (``WEBHOOK_*``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from automation.delivery.retry import DEFAULT_SCHEDULE_SECONDS, RetrySchedule
from automation.netguard import AddressPolicy
from automation.webhooks.breaker import BreakerPolicy


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOK_", extra="ignore")

    # comma-separated host names and CIDR ranges deliveries may reach although internal
    allowed_hosts: str = ""
    # seconds to wait before each attempt; the first (0) is the immediate try
    retry_schedule: str = ",".join(f"{d:g}" for d in DEFAULT_SCHEDULE_SECONDS)
    retry_jitter: float = Field(default=0.1, ge=0, lt=1)
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    # an endpoint failing without a single success for this long is disabled
    disable_after_seconds: float = Field(default=5 * 24 * 3600, gt=0)
    # how long a worker owns a delivery it is attempting (longer than the timeout)
    lease_seconds: float = Field(default=60.0, gt=0)
    # waits up to this long ride on a broker countdown; longer ones wait in the database
    max_countdown_seconds: float = Field(default=60.0, ge=0)
    # how long a rotated-out secret keeps signing
    secret_overlap_seconds: float = Field(default=24 * 3600, ge=0)
    max_connections: int = Field(default=100, ge=1)
    # circuit breaker per endpoint: this many failures in a row open it; an open
    # circuit is probed after breaker_probe_seconds, doubling up to the maximum
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_probe_seconds: float = Field(default=2.0, gt=0)
    breaker_max_probe_seconds: float = Field(default=60.0, gt=0)
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)

    @field_validator("retry_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        RetrySchedule.parse(value)
        return value

    def schedule(self) -> RetrySchedule:
        return RetrySchedule.parse(self.retry_schedule, jitter=self.retry_jitter)

    def breaker(self) -> BreakerPolicy:
        return BreakerPolicy(
            threshold=self.breaker_threshold,
            probe_seconds=min(self.breaker_probe_seconds, self.breaker_max_probe_seconds),
            max_probe_seconds=self.breaker_max_probe_seconds,
        )

    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.from_setting(self.allowed_hosts)

    @property
    def disable_after(self) -> timedelta:
        return timedelta(seconds=self.disable_after_seconds)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=max(self.lease_seconds, self.timeout_seconds + 5))
