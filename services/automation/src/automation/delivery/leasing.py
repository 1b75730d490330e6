"""Claiming due rows with a lease: how delivery workers split work without a lock
held across network calls. Used for webhook deliveries and notifications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession


async def claim_due(
    session: AsyncSession,
    model: Any,
    conditions: Sequence[ColumnElement[bool]],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[str]:
    """Lease rows of ``model`` that are due (``next_attempt_at <= now``), match
    ``conditions`` and nobody holds; return the ids now ours (committed)."""
    due = [
        *conditions,
        model.next_attempt_at <= now,
        or_(model.lease_until.is_(None), model.lease_until < now),
    ]
    candidates = list(
        await session.scalars(
            select(model.id)
            .where(*due)
            .order_by(model.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        await session.commit()
        return []
    # the same conditions again: between the SELECT and here another worker may
    # have claimed a row (SQLite has no SKIP LOCKED); RETURNING tells us which we got
    claimed = await session.execute(
        update(model)
        .where(model.id.in_(candidates), *due)
        .values(lease_until=now + lease)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    ids = [str(i) for i in claimed.scalars()]
    await session.commit()
    return ids
