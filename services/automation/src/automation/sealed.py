"""Column types that keep secrets sealed in the database (:mod:`automation.secretbox`).

``SealedText`` holds one secret; ``SealedSecretList`` holds a JSON list of
``{"secret": ..., ...}`` objects (a webhook endpoint's previous secrets) and seals
only the ``secret`` members. Both seal on write and open on read with the
process's :func:`automation.secretbox.current` box.

:data:`SEALED_COLUMNS` lists every sealed column; :func:`reseal_all` re-seals them
with the first key (``automation rotate-secrets``), and the migration that
introduced sealing uses the same list to seal rows written before it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeEngine

from automation import secretbox
from automation.secretbox import SecretBox, SecretsKeyError


class SealedText(TypeDecorator[str]):
    """A secret string, sealed at rest."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else secretbox.current().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else secretbox.current().open(value)


def _map_secrets(items: Any, change: Any) -> Any:
    if not isinstance(items, list):
        return items
    return [
        {**item, "secret": change(item["secret"])}
        if isinstance(item, dict) and isinstance(item.get("secret"), str)
        else item
        for item in items
    ]


class SealedSecretList(TypeDecorator[list[dict[str, Any]]]):
    """A JSON list of ``{"secret": ..., ...}``; each ``secret`` sealed at rest."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _map_secrets(value, secretbox.current().seal)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return _map_secrets(value, secretbox.current().open)


# (table, primary key column, sealed column, "text" or "list"): every sealed column.
SEALED_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("integration_credentials", "id", "secrets", "text"),
    ("webhook_endpoints", "id", "secret", "text"),
    ("webhook_endpoints", "id", "previous_secrets", "list"),
)


def _json_column(name: str, dialect: Dialect) -> sa.ColumnClause[Any]:
    return sa.column(name, JSONB() if dialect.name == "postgresql" else JSON())


def transform_column(
    connection: Connection,
    table: str,
    key: str,
    column: str,
    kind: str,
    change: Any,
) -> int:
    """Apply ``change`` to every stored value of one sealed column, on raw rows
    (no ORM types). Returns how many rows changed. Used by migrations and rotation."""
    col = _json_column(column, connection.dialect) if kind == "list" else sa.column(column)
    tbl = sa.table(table, sa.column(key), col)
    changed = 0
    rows = connection.execute(sa.select(tbl.c[key], tbl.c[column])).all()
    for row_key, value in rows:
        if value is None:
            continue
        new = _map_secrets(value, change) if kind == "list" else change(value)
        if new != value:
            connection.execute(sa.update(tbl).where(tbl.c[key] == row_key).values({column: new}))
            changed += 1
    return changed


def seal_plaintext(box: SecretBox) -> Any:
    """``change`` for :func:`transform_column` sealing values not sealed yet."""
    return lambda value: value if box.is_sealed(value) else box.seal(value)


def reseal_all(connection: Connection, box: SecretBox) -> int:
    """Re-seal every stored secret with the box's first key (after a key rotation).
    Returns how many rows were rewritten."""
    return sum(
        transform_column(connection, table, key, column, kind, box.reseal)
        for table, key, column, kind in SEALED_COLUMNS
    )


async def rotate_secrets(engine: AsyncEngine, box: SecretBox) -> int:
    """Re-seal every stored secret with ``box``'s first key, in one transaction."""
    async with engine.begin() as connection:
        return await connection.run_sync(reseal_all, box)


def unopenable_column(connection: Connection, box: SecretBox) -> str | None:
    """The first sealed column (``table.column``) holding a value ``box`` cannot open,
    or None. Looks at one row per column: enough to catch a wrong SECRETS_KEY."""
    for table, _key, column, kind in SEALED_COLUMNS:
        col = _json_column(column, connection.dialect) if kind == "list" else sa.column(column)
        tbl = sa.table(table, col)
        try:
            value = connection.execute(
                sa.select(tbl.c[column]).where(tbl.c[column].is_not(None)).limit(1)
            ).scalar()
        except sa.exc.DBAPIError:  # not migrated yet: nothing sealed to check
            connection.rollback()
            continue
        try:
            if kind == "list":
                _map_secrets(value, box.open)
            elif value is not None:
                box.open(value)
        except SecretsKeyError:
            return f"{table}.{column}"
    return None


async def check_keys(engine: AsyncEngine, box: SecretBox) -> str | None:
    """:func:`unopenable_column` on ``engine``'s database."""
    async with engine.connect() as connection:
        return await connection.run_sync(unopenable_column, box)
