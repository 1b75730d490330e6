"""Integration tables: each tenant's credentials per provider, and the Wompi events
already received (so a re-sent or replayed event is stored once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from automation.db import Base, JSONType, UTCDateTime, utcnow
from automation.sealed import SealedText


def new_id() -> str:
    return str(uuid.uuid4())


class IntegrationCredential(Base):
    __tablename__ = "integration_credentials"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", name="uq_integration_credentials_provider"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(50))
    # the provider's non-secret fields (e.g. the Airtable bases allowed)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # the provider's secret fields as JSON, sealed (automation.secretbox)
    secrets: Mapped[str] = mapped_column(SealedText())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class WompiEventReceipt(Base):
    """One verified Wompi event; the unique key is Wompi's identity of an event."""

    __tablename__ = "wompi_event_receipts"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "resource_id", "status", "signed_at", name="uq_wompi_event_receipts_event"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # the transaction (or token) id, its status, and the event's signed timestamp
    resource_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(50))
    signed_at: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
