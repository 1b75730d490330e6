"""webhook endpoints get a circuit breaker (consecutive failures, open until, opened at)

Revision ID: 0310
Revises: 0100
Create Date: 2026-12-03 07:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0310"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(
            sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("circuit_open_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("circuit_opened_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("circuit_opened_at")
        batch.drop_column("circuit_open_until")
        batch.drop_column("consecutive_failures")
