"""workflow executions store the W3C traceparent of the request (or rule run) that
started them, so every step, also one resumed later by the scheduler, runs in that trace

Revision ID: 0415
Revises: 0410
Create Date: 2026-12-03 10:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0415"
down_revision: str | None = "0410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("traceparent")
