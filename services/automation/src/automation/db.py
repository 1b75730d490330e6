"""SQLAlchemy 2 async engine, sessions and the declarative base."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Executable, MetaData, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


# delivery leases claim rows with UPDATE ... RETURNING, which SQLite has since 3.35
MIN_SQLITE_VERSION = (3, 35, 0)


def check_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    """Fail at startup, not at the first delivery, on a SQLite library too old for us."""
    if version < MIN_SQLITE_VERSION:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_SQLITE_VERSION))
        raise RuntimeError(
            f"DATABASE_URL: SQLite {have} is too old, the automation service needs {need} "
            "or newer (UPDATE ... RETURNING); upgrade SQLite or use PostgreSQL"
        )


def create_engine(
    url: str,
    pool_size: int = 10,
    max_overflow: int = 20,
    isolation_level: str | None = None,
    pre_ping: bool = True,
) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL and a busy timeout so the API and
    a worker can share the file. Without ``pre_ping`` a pooled connection the
    server has closed shows up as a ``DBAPIError`` with ``connection_invalidated``
    on its first statement, and the caller retries."""
    options: dict[str, Any] = {"isolation_level": isolation_level} if isolation_level else {}
    if url.startswith("sqlite"):
        check_sqlite_version()
        engine = create_async_engine(url, connect_args={"timeout": 30}, **options)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=-1 if pre_ping else 600,
        pool_timeout=30,
        connect_args={"timeout": 10, "command_timeout": 60},
        **options,
    )


class Database:
    """An engine plus its session factory; one per process (and per event loop)."""

    def __init__(self, url: str, pool_size: int = 10, max_overflow: int = 20) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size, max_overflow)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._pool_args = (pool_size, max_overflow)
        self._autocommit: AsyncEngine | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @property
    def autocommit_engine(self) -> AsyncEngine:
        """A second pool whose connections commit every statement by itself, for hot
        paths made of single-statement writes (the workflow engine). Checking one
        out costs no round trip: there is no liveness ping (with a pool in a
        transaction mode it takes three: BEGIN, ping, ROLLBACK), so its user
        retries a first statement that finds the connection dead. A transaction
        on it is opened explicitly where one is needed."""
        if self._autocommit is None:
            self._autocommit = create_engine(
                self.url, *self._pool_args, isolation_level="AUTOCOMMIT", pre_ping=False
            )
        return self._autocommit

    async def with_autocommit(
        self,
        work: Callable[[AsyncConnection], Awaitable[T]],
        retry: Callable[[], bool] = lambda: True,
    ) -> T:
        """``work(conn)`` on a connection of the autocommit pool. That pool does not
        ping, so a connection the server closed while it sat in the pool fails the
        first statement, before anything ran; the pool drops it (and its peers)
        and, when ``retry()`` agrees, ``work`` runs once more on a new one."""
        for attempt in (1, 2):
            try:
                async with self.autocommit_engine.connect() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated or not retry():
                    raise
        raise AssertionError("unreachable")

    async def execute_once(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> None:
        """Run one write statement by itself on the autocommit pool: one round trip,
        no session, no BEGIN/COMMIT."""

        async def execute(conn: AsyncConnection) -> None:
            await conn.execute(statement, params)

        await self.with_autocommit(execute)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._autocommit is not None:
            await self._autocommit.dispose()
