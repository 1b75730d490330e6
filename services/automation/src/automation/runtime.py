"""The long-lived parts one API process shares: settings, database, task sender."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from automation import celery_app as celery_module
from automation import secretbox
from automation.db import Database, utcnow
from automation.models import Tenant
from automation.settings import Settings


class TenantDirectory:
    """Makes sure a tenant row exists the first time a tenant shows up."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._known: set[str] = set()

    async def ensure(self, tenant_id: str) -> None:
        if tenant_id in self._known:
            return
        dialect = self._database.engine.dialect.name
        values: dict[str, Any] = {"id": tenant_id, "name": tenant_id, "created_at": utcnow()}
        stmt: Any
        if dialect == "postgresql":
            stmt = pg_insert(Tenant).values(**values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            stmt = sqlite_insert(Tenant).values(**values).on_conflict_do_nothing()
        else:
            stmt = insert(Tenant).values(**values)
        async with self._database.session() as session:
            await session.execute(stmt)
            await session.commit()
        if len(self._known) > 100_000:  # bounded: forget and re-check
            self._known.clear()
        self._known.add(tenant_id)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    celery: Celery
    tenants: TenantDirectory = field(init=False)

    def __post_init__(self) -> None:
        self.tenants = TenantDirectory(self.database)
        # stored secrets seal and open with this process's keys
        secretbox.install(secretbox.SecretBox.from_settings(self.settings))

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        database = Database(
            settings.effective_database_url,
            settings.database_pool_size,
            settings.database_max_overflow,
        )
        return cls(settings, database, celery_module.create_celery(settings))

    def send(
        self, name: str, *args: Any, queue: str | None = None, countdown: float | None = None
    ) -> None:
        celery_module.send(self.celery, name, *args, queue=queue, countdown=countdown)

    def task_sender(
        self, name: str, args: tuple[Any, ...], queue: str | None, countdown: float | None
    ) -> None:
        """The engine's ``Sender`` shape of :meth:`send`."""
        self.send(name, *args, queue=queue, countdown=countdown)

    async def close(self) -> None:
        await self.database.dispose()
        self.celery.close()
