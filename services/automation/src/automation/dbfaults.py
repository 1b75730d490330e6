"""Which failures mean "the database is unreachable right now", in one place.

A restart, a failover or a dropped socket shows up in many shapes: asyncpg's
``InterfaceError: connection is closed``, ``ConnectionRefusedError`` and
``ConnectionResetError`` from the socket, ``CannotConnectNowError`` and
``AdminShutdownError`` from a server that is stopping or starting, SQLAlchemy's
``DBAPIError`` wrappers around all of these (``connection_invalidated``), its
``OperationalError`` and pool timeout. None of them says anything about the work:
the same statement succeeds once the database is back. The workflow runner
reconnects and carries on, the Celery tasks retry with backoff, and the API
answers 503 with ``Retry-After``; all of them ask :func:`is_connection_error`.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

# What a server says while it stops, starts or drops us (lower-cased substrings).
_MESSAGES = (
    "connection is closed",
    "connection was closed",
    "connection has been closed",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "could not connect to server",
    "connection refused",
    "connection reset",
    "broken pipe",
)
_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENOTCONN,
    }
)
# SQLSTATE classes and codes of a lost or refused connection: 08 (connection
# exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), 53300 (too
# many connections, as during a restart's reconnect storm).
_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_MAX_DEPTH = 8


class DatabaseUnavailable(RuntimeError):
    """The database stayed unreachable longer than the caller was willing to wait."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what it wraps (``.orig``) and what caused it, as Python shows them
    (a context hidden by ``raise ... from None`` is not followed)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < _MAX_DEPTH:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            todo.append(orig)
        if current.__cause__ is not None:
            todo.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            todo.append(current.__context__)


def _is_database_type(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.SQLAlchemyError | asyncpg.PostgresError | asyncpg.InterfaceError)


def _one(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(
        exc,
        sa_exc.DisconnectionError
        | sa_exc.OperationalError
        | sa_exc.TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.TooManyConnectionsError
        | asyncpg.ConnectionDoesNotExistError,
    ):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATES):
        return True
    if isinstance(exc, ConnectionError) or (isinstance(exc, OSError) and exc.errno in _ERRNOS):
        return True
    if isinstance(exc, TimeoutError | OSError | sa_exc.SQLAlchemyError | asyncpg.InterfaceError):
        text = str(exc).lower()
        return any(m in text for m in _MESSAGES)
    return False


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) means the database could not be reached
    or the connection was lost: retry the work once it answers again."""
    return any(_one(e) for e in _chain(exc))


def is_database_outage(exc: BaseException) -> bool:
    """Like :func:`is_connection_error`, but only for failures a database library
    raised. A step handler's own network failure (a receiver refusing a request)
    is the step's failure, not the database's."""
    chain = list(_chain(exc))
    return any(_is_database_type(e) for e in chain) and any(_one(e) for e in chain)


_random = random.SystemRandom()


def backoff(attempt: int, *, base: float = 0.1, cap: float = 2.0) -> float:
    """Seconds before reconnect attempt ``attempt`` (1-based): exponential with full
    jitter, so workers that lost the database together do not return together."""
    return _random.uniform(base / 2, min(cap, base * 2 ** max(0, attempt - 1)))


def retry_countdown(retries: int, *, cap: float = 30.0) -> float:
    """The countdown of a task's ``retries``-th retry after an outage (1, 2, 4 ... s)."""
    return min(cap, float(2**retries)) * _random.uniform(0.8, 1.0)


# Seconds an API client is asked to wait (``Retry-After``) during an outage.
RETRY_AFTER_SECONDS = 2

# The exception classes an outage surfaces as (for handlers registered by class).
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    sa_exc.SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)
