"""workflow webhook tokens are stored as their SHA-256 only (issue 16)

``workflows.webhook_token`` keeps its name and type; each plaintext token in it is
replaced by ``sha256:<hex>`` of itself (automation.workflows.tokens), so the URLs
issued before the upgrade keep working and the token is no longer readable at rest.

Downgrade cannot bring the tokens back: it clears the hashes, so the webhook URLs of
webhook-triggered workflows stop answering until re-issued (with the old code, the
next update of the workflow issues a new URL).

Revision ID: 0416
Revises: 0415
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0416"
down_revision: str | None = "0415"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "sha256:"

workflows = sa.table("workflows", sa.column("id", sa.String), sa.column("webhook_token", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(workflows.c.id, workflows.c.webhook_token).where(
            workflows.c.webhook_token.is_not(None),
            sa.not_(workflows.c.webhook_token.startswith(PREFIX, autoescape=True)),
        )
    ).all()
    for workflow_id, token in rows:
        # the same hash as automation.workflows.tokens.token_hash, frozen here
        hashed = PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        bind.execute(
            workflows.update().where(workflows.c.id == workflow_id).values(webhook_token=hashed)
        )


def downgrade() -> None:
    op.get_bind().execute(
        workflows.update()
        .where(workflows.c.webhook_token.startswith(PREFIX, autoescape=True))
        .values(webhook_token=None)
    )
