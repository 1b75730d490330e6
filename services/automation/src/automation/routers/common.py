"""Helpers every API router shares: the runtime, sessions, tenant-owned lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.runtime import Runtime

T = TypeVar("T")

ID_PATTERN = r"^[0-9a-fA-F-]{36}$"


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
