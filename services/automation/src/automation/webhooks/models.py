"""Webhook tables: endpoints, messages, one delivery per (message, endpoint), attempts.

Every row carries ``tenant_id``; the queries in :mod:`automation.webhooks.store`
always filter by it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from automation.db import Base, JSONType, UTCDateTime, utcnow
from automation.sealed import SealedSecretList, SealedText
from mimeia_telemetry.tracing import TRACEPARENT_LENGTH


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def new_id() -> str:
    return str(uuid.uuid4())


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2048))
    # exact event types and wildcards ("workflow.*", "*"); empty means every event
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # the current secret signs every request; previous ones keep signing until they
    # expire. Both sealed at rest (automation.secretbox).
    secret: Mapped[str] = mapped_column(SealedText())
    previous_secrets: Mapped[list[dict[str, Any]]] = mapped_column(SealedSecretList(), default=list)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # deliveries per second to this endpoint; None means no limit
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # set at the first failure after a success; cleared by the next success
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the circuit breaker (automation.webhooks.breaker): failed attempts in a row,
    # and while the circuit is open, when its next probe is due (NULL: closed) and
    # since when it is open
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    circuit_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    circuit_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class WebhookMessage(Base):
    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_webhook_messages_idempotency"),
        Index("ix_webhook_messages_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_message_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the W3C traceparent of the span that created the message (NULL when tracing was
    # off): every attempt, including the sweep's retries, runs in that trace
    traceparent: Mapped[str | None] = mapped_column(String(TRACEPARENT_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One message to one endpoint: its state and when it is next due."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "endpoint_id", name="uq_webhook_deliveries_pair"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(ForeignKey("webhook_messages.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # pending (due now or later), succeeded, failed (gave up or endpoint disabled)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery", "delivery_id", "attempt_number"),
        Index("ix_webhook_attempts_endpoint", "tenant_id", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[str] = mapped_column(String(36))
    attempt_number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    response_snippet: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    verdict: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
