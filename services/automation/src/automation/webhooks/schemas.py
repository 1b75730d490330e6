"""Request and response bodies of the webhook API."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from automation.webhooks.sender import reserved_header

EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}\Z")
EVENT_FILTER = re.compile(r"^[A-Za-z0-9_.:\-*]{1,200}\Z")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}\Z")


def _check_filters(value: list[str]) -> list[str]:
    if len(value) > 100:
        raise ValueError("at most 100 event types")
    for item in value:
        if not EVENT_FILTER.match(item):
            raise ValueError(f"{item!r} is not an event type or wildcard (letters, . _ - : *)")
    return value


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 20:
        raise ValueError("at most 20 headers")
    for name, header_value in value.items():
        if not HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if reserved_header(name):
            raise ValueError(f"{name!r} is set by the service and cannot be overridden")
        if len(header_value) > 1000 or any(c in header_value for c in "\r\n\0"):
            raise ValueError(f"value of {name!r} is too long or has line breaks")
    return value


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    events: list[str] = Field(default_factory=list, description="event types; '*' wildcards")
    secret: str | None = Field(default=None, description="whsec_... or 16-128 characters")
    headers: dict[str, str] = Field(default_factory=dict)
    rate_limit: int | None = Field(default=None, ge=1, le=10_000, description="per second")
    enabled: bool = True

    _filters = field_validator("events")(_check_filters)
    _headers = field_validator("headers")(_check_headers)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = None
    headers: dict[str, str] | None = None
    rate_limit: int | None = Field(default=None, ge=1, le=10_000)
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _filters(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_filters(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _check_headers(value)


class EndpointOut(BaseModel):
    id: str
    name: str
    description: str
    url: str
    events: list[str]
    headers: dict[str, str]
    rate_limit: int | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str


class SecretOut(BaseModel):
    """The secret at creation or rotation: the only times it is returned."""

    secret: str
    previous_secrets_expire_at: list[datetime]


class SecretInfo(BaseModel):
    """What ``GET .../secret`` says: never the secret itself (rotate to get a new one)."""

    secret_set: bool
    previous_secrets_expire_at: list[datetime]


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = None
    overlap_seconds: float | None = Field(default=None, ge=0, le=7 * 24 * 3600)


class DeliverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)
    endpoint_ids: list[str] | None = Field(default=None, max_length=100)

    @field_validator("payload")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("NaN and Infinity are not JSON") from None
        return value

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str) -> str:
        if not EVENT_TYPE.match(value):
            raise ValueError("letters, digits and . _ - : only")
        return value


class DeliverResponse(BaseModel):
    message_id: str
    event_type: str
    endpoints: int
    duplicate: bool


class DeliveryOut(BaseModel):
    id: str
    message_id: str
    endpoint_id: str
    event_type: str | None = None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class MessageOut(BaseModel):
    id: str
    event_type: str
    payload: dict[str, Any]
    idempotency_key: str | None
    created_at: datetime
    deliveries: list[DeliveryOut] = Field(default_factory=list)


class AttemptOut(BaseModel):
    id: str
    delivery_id: str
    message_id: str
    endpoint_id: str
    attempt_number: int
    status_code: int | None
    duration_ms: float
    response_snippet: str
    error: str | None
    verdict: str
    created_at: datetime


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime | None = Field(default=None, description="with a time zone")


class ReplayResponse(BaseModel):
    replayed: int
    delivery_ids: list[str]


class WebhookSummary(BaseModel):
    """The tenant's endpoints now, and its deliveries created at or after ``since``."""

    since: datetime
    endpoints: int
    endpoints_failing: int = Field(description="enabled endpoints whose last attempt failed")
    endpoints_disabled: int
    deliveries: dict[str, int] = Field(description="deliveries by status")
    deliveries_failing: int = Field(
        description="deliveries that gave up, or are waiting to retry after a failed attempt"
    )
