"""Read and write a tenant's credentials for a provider. Every query names the tenant."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.db import Database, utcnow
from automation.integrations.models import IntegrationCredential


@dataclass(frozen=True)
class Credentials:
    """One tenant's configuration of one provider, secrets opened."""

    tenant_id: str
    provider: str
    settings: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


def _credentials(found: IntegrationCredential) -> Credentials:
    secrets = json.loads(found.secrets)
    return Credentials(found.tenant_id, found.provider, dict(found.settings), secrets)


def secret_names(found: IntegrationCredential) -> set[str]:
    """Which secret fields are set (names only)."""
    return set(json.loads(found.secrets))


async def row(session: AsyncSession, tenant_id: str, provider: str) -> IntegrationCredential | None:
    stmt = select(IntegrationCredential).where(
        IntegrationCredential.tenant_id == tenant_id,
        IntegrationCredential.provider == provider,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def load(session: AsyncSession, tenant_id: str, provider: str) -> Credentials | None:
    found = await row(session, tenant_id, provider)
    return None if found is None else _credentials(found)


async def credentials_for(database: Database, tenant_id: str, provider: str) -> Credentials | None:
    """The tenant's credentials for ``provider``, or None when it configured none."""
    async with database.session() as session:
        return await load(session, tenant_id, provider)


async def save(
    session: AsyncSession,
    tenant_id: str,
    provider: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> None:
    """Create or replace the tenant's configuration of ``provider`` (commits)."""
    found = await row(session, tenant_id, provider)
    sealed = json.dumps(secrets, sort_keys=True)
    if found is None:
        session.add(
            IntegrationCredential(
                tenant_id=tenant_id, provider=provider, settings=settings, secrets=sealed
            )
        )
    else:
        found.settings = settings
        found.secrets = sealed
        found.updated_at = utcnow()
    await session.commit()


async def remove(session: AsyncSession, tenant_id: str, provider: str) -> bool:
    """Forget the tenant's configuration of ``provider``; False when there was none."""
    result: Any = await session.execute(
        delete(IntegrationCredential).where(
            IntegrationCredential.tenant_id == tenant_id,
            IntegrationCredential.provider == provider,
        )
    )
    await session.commit()
    return bool(result.rowcount)
