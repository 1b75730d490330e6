"""Helpers every API router shares: the runtime, sessions, tenant-owned lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query, Request
from pydantic import AfterValidator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.runtime import Runtime

T = TypeVar("T")

ID_PATTERN = r"^[0-9a-fA-F-]{36}$"
SUMMARY_WINDOW = timedelta(hours=1)  # what a summary counts when no `since` is given


def _not_in_future(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a time without an offset is UTC
    if value > datetime.now(UTC) + timedelta(minutes=5):
        raise ValueError("is in the future")
    return value


# ``?since=`` of the summaries: an ISO 8601 time (UTC when it has no offset)
Since = Annotated[
    datetime | None,
    AfterValidator(_not_in_future),
    Query(description="count what was created at or after this time (default: an hour ago)"),
]


def since_or_default(since: datetime | None) -> datetime:
    return since if since is not None else datetime.now(UTC) - SUMMARY_WINDOW


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.services
    return runtime


async def session_dependency(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request).database.session() as session:
        yield session


async def get_owned(
    session: AsyncSession, model: type[T], row_id: str, tenant_id: str, what: str
) -> T:
    """The row of this tenant with this id, or 404 (another tenant's rows look absent)."""
    stmt: Any = select(model).where(
        model.id == row_id,  # type: ignore[attr-defined]
        model.tenant_id == tenant_id,  # type: ignore[attr-defined]
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise HTTPException(404, detail=f"{what} {row_id} not found")
    return row
