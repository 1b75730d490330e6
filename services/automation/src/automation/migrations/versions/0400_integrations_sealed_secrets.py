"""per-tenant integration credentials, Wompi event receipts, secrets sealed at rest

- ``integration_credentials`` (tenant, provider, settings, sealed secrets); each
  tenant's Wompi events secret moves there from ``tenants.wompi_events_secret``;
- ``wompi_event_receipts`` with a unique (tenant, transaction id, status, signed
  timestamp): a Wompi event is stored once;
- webhook endpoint secrets (current and previous) are sealed in place.

Sealing needs the keys (``SECRETS_KEY``, or the generated development key) only when
there are rows to seal.

Revision ID: 0400
Revises: 0310
Create Date: 2026-12-03 07:20:00.000000
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from automation import secretbox
from automation.sealed import seal_plaintext, transform_column
from automation.secretbox import SecretBox

revision: str = "0400"
down_revision: str | None = "0310"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _box() -> SecretBox:
    return secretbox.current()


def _seal_webhook_secrets(connection: sa.Connection) -> None:
    has_rows = connection.execute(sa.text("SELECT 1 FROM webhook_endpoints LIMIT 1")).first()
    if has_rows is None:
        return
    change = seal_plaintext(_box())
    transform_column(connection, "webhook_endpoints", "id", "secret", "text", change)
    transform_column(connection, "webhook_endpoints", "id", "previous_secrets", "list", change)


def _move_wompi_secrets(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.text("SELECT id, wompi_events_secret FROM tenants WHERE wompi_events_secret IS NOT NULL")
    ).all()
    if not rows:
        return
    table = sa.table(
        "integration_credentials",
        sa.column("id"), sa.column("tenant_id"), sa.column("provider"),
        sa.column("settings", JSON), sa.column("secrets"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    now = datetime.now(UTC)
    for tenant_id, secret in rows:
        sealed = _box().seal(json.dumps({"events_secret": secret}))
        connection.execute(
            table.insert().values(
                id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                provider="wompi",
                settings={},
                secrets=sealed,
                created_at=now,
                updated_at=now,
            )
        )


def upgrade() -> None:
    op.create_table(
        "integration_credentials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_integration_credentials_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_credentials")),
        sa.UniqueConstraint("tenant_id", "provider", name="uq_integration_credentials_provider"),
    )
    op.create_table(
        "wompi_event_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("signed_at", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_wompi_event_receipts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wompi_event_receipts")),
        sa.UniqueConstraint(
            "tenant_id", "resource_id", "status", "signed_at", name="uq_wompi_event_receipts_event"
        ),
    )
    op.create_index(
        op.f("ix_wompi_event_receipts_created_at"),
        "wompi_event_receipts",
        ["created_at"],
        unique=False,
    )

    connection = op.get_bind()
    _move_wompi_secrets(connection)
    # Never batch mode here: SQLite's batch copy drops and recreates the table, and
    # dropping "tenants" cascades to every tenant's rows. SQLite >= 3.35 (required
    # by the service) drops a column in place.
    op.execute("ALTER TABLE tenants DROP COLUMN wompi_events_secret")
    if connection.dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        # a sealed secret is longer than the plain one
        op.alter_column(
            "webhook_endpoints",
            "secret",
            existing_type=sa.String(length=300),
            type_=sa.Text(),
            existing_nullable=False,
        )
    _seal_webhook_secrets(connection)


def downgrade() -> None:
    connection = op.get_bind()
    has_rows = connection.execute(sa.text("SELECT 1 FROM webhook_endpoints LIMIT 1")).first()
    if has_rows is not None:
        box = _box()
        for column, kind in (("secret", "text"), ("previous_secrets", "list")):
            transform_column(connection, "webhook_endpoints", "id", column, kind, box.open)
    if connection.dialect.name == "postgresql":
        op.alter_column(
            "webhook_endpoints",
            "secret",
            existing_type=sa.Text(),
            type_=sa.String(length=300),
            existing_nullable=False,
        )
    op.add_column("tenants", sa.Column("wompi_events_secret", sa.String(length=200), nullable=True))
    rows = connection.execute(
        sa.text("SELECT tenant_id, secrets FROM integration_credentials WHERE provider = 'wompi'")
    ).all()
    for tenant_id, sealed in rows:
        secret = json.loads(_box().open(sealed)).get("events_secret")
        connection.execute(
            sa.text("UPDATE tenants SET wompi_events_secret = :s WHERE id = :t"),
            {"s": secret, "t": tenant_id},
        )
    op.drop_index(op.f("ix_wompi_event_receipts_created_at"), table_name="wompi_event_receipts")
    op.drop_table("wompi_event_receipts")
    op.drop_table("integration_credentials")
