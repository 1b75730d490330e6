"""Reading and writing executions for the engine, with prebuilt Core statements.

The engine runs every execution through a handful of statements: claim the
lease, read the step rows, write step results, close the run with its
completion event. They are built once here, on the tables rather than the ORM
classes, so a run pays for compiled-statement cache hits and parameter binding
only: no expression building, no unit of work, no identity map. The engine keeps
its own copy of the rows it changes (:class:`ExecutionState`, :class:`StepState`)
because nobody else writes them while it holds the lease.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from automation.db import UTCDateTime
from automation.models import Event, StepRun, WorkflowExecution
from automation.rules.subscriptions import listener_patterns

ACTIVE = ("pending", "running", "waiting")

_executions = cast(Table, WorkflowExecution.__table__)
_steps = cast(Table, StepRun.__table__)
_events = cast(Table, Event.__table__)


def _at(name: str) -> Any:
    """A timestamp parameter (typed, so it goes through the UTC column type)."""
    return bindparam(name, type_=UTCDateTime())


@dataclass(slots=True)
class ExecutionState:
    """The parts of an execution row the engine reads; fixed for the run."""

    id: str
    tenant_id: str
    workflow_id: str
    priority: str
    trigger: str
    input: dict[str, Any]
    context: dict[str, Any]
    definition: list[dict[str, Any]]
    request_id: str | None
    traceparent: str | None


@dataclass(slots=True)
class StepState:
    """A step row as the engine keeps it current in memory."""

    id: str
    step_id: str
    status: str
    input: Any
    output: Any
    error: str | None
    attempts: int
    next_attempt_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


_EXECUTION_COLUMNS = [getattr(_executions.c, f) for f in ExecutionState.__dataclass_fields__]
_STEP_COLUMNS = [getattr(_steps.c, f) for f in StepState.__dataclass_fields__]

# Take the lease of an active execution that nobody holds (or whose holder's
# lease ran out) and that is due, and return it, in one statement.
_CLAIM: Update = (
    update(_executions)
    .where(
        _executions.c.id == bindparam("p_id"),
        _executions.c.status.in_(ACTIVE),
        or_(_executions.c.lease_until.is_(None), _executions.c.lease_until < _at("p_now")),
        or_(_executions.c.resume_at.is_(None), _executions.c.resume_at <= _at("p_due")),
    )
    .values(
        status="running",
        lease_owner=bindparam("p_owner"),
        lease_until=_at("p_until"),
        resume_at=None,
        started_at=func.coalesce(_executions.c.started_at, _at("p_now")),
    )
    .returning(*_EXECUTION_COLUMNS)
)

_STEP_ROWS: Select[Any] = (
    select(*_STEP_COLUMNS)
    .where(
        _steps.c.execution_id == bindparam("p_execution_id"),
        _steps.c.tenant_id == bindparam("p_tenant_id"),
    )
    .order_by(_steps.c.position)
)

_HELD_BY = (
    _executions.c.id == bindparam("p_id"),
    _executions.c.lease_owner == bindparam("p_owner"),
    _executions.c.status == "running",
)

_RENEW: Update = update(_executions).where(*_HELD_BY).values(lease_until=_at("p_until"))

_STATUS: Select[Any] = select(_executions.c.status, _executions.c.lease_owner).where(
    _executions.c.id == bindparam("p_id")
)

# What closing a run (or parking it to wait) writes on the execution row.
_CLOSE: Update = (
    update(_executions)
    .where(*_HELD_BY)
    .values(
        lease_owner=None,
        lease_until=None,
        status=bindparam("v_status"),
        error=bindparam("v_error"),
        finished_at=_at("v_finished_at"),
        resume_at=_at("v_resume_at"),
    )
)

# A step row's whole mutable state, written from the engine's copy.
_STEP_STATE_COLUMNS = [f for f in StepState.__dataclass_fields__ if f not in ("id", "step_id")]
_WRITE_STEP: Update = (
    update(_steps)
    .where(_steps.c.id == bindparam("p_id"))
    .values({c: bindparam(f"v_{c}", type_=_steps.c[c].type) for c in _STEP_STATE_COLUMNS})
)

_INSERT_EVENT: Insert = insert(_events)

# PostgreSQL does each of claim and close in one statement (data-modifying CTEs),
# so a workflow of pure steps costs two statements in all. Other databases run
# the same work as separate statements.
_PG_CLAIM = text("""
WITH claimed AS (
    UPDATE workflow_executions
    SET status = 'running', lease_owner = :owner, lease_until = :until, resume_at = NULL,
        started_at = COALESCE(started_at, :now), updated_at = :now
    WHERE id = :id AND status IN ('pending', 'running', 'waiting')
      AND (lease_until IS NULL OR lease_until < :now)
      AND (resume_at IS NULL OR resume_at <= :due)
    RETURNING id, tenant_id, workflow_id, priority, trigger, input, context, definition,
              request_id, traceparent
)
SELECT c.*, (
    SELECT coalesce(json_agg(json_build_array(
        s.id, s.step_id, s.status, s.input, s.output, s.error, s.attempts,
        s.next_attempt_at, s.started_at, s.finished_at) ORDER BY s.position), '[]')
    FROM step_runs s WHERE s.execution_id = c.id AND s.tenant_id = c.tenant_id
) AS steps, (
    -- the same patterns as automation.rules.subscriptions.listener_patterns
    SELECT coalesce(json_agg(l.pattern), '[]') FROM (
        SELECT r.trigger ->> 'event_type' AS pattern FROM automation_rules r
        WHERE r.tenant_id = c.tenant_id AND r.enabled AND r.trigger ->> 'type' = 'event'
        UNION ALL
        SELECT w.event_type FROM workflows w
        WHERE w.tenant_id = c.tenant_id AND w.trigger_type = 'event' AND w.enabled
    ) l
) AS listeners
FROM claimed c
""")

_PG_CLOSE = text("""
WITH done AS (
    UPDATE workflow_executions
    SET status = :status, error = :error, finished_at = :finished_at, resume_at = :resume_at,
        lease_owner = NULL, lease_until = NULL, updated_at = :now
    WHERE id = :id AND lease_owner = :owner AND status = 'running'
    RETURNING id
), written AS (
    UPDATE step_runs AS s
    SET status = r.status, input = r.input, output = r.output, error = r.error,
        attempts = r.attempts, next_attempt_at = r.next_attempt_at,
        started_at = r.started_at, finished_at = r.finished_at
    FROM jsonb_to_recordset(CAST(:steps AS jsonb)) AS r(
        id text, status text, input jsonb, output jsonb, error text, attempts integer,
        next_attempt_at timestamptz, started_at timestamptz, finished_at timestamptz)
    -- execution_id first: it is indexed, and keeps the planner off a scan of every
    -- step row (it cannot know the recordset holds only this run's steps)
    WHERE s.execution_id = :id AND s.id = r.id AND EXISTS (SELECT FROM done)
), recorded AS (
    INSERT INTO events (id, tenant_id, type, source, data, status, request_id, created_at,
                        processed_at)
    SELECT e.id, e.tenant_id, e.type, e.source, e.data, e.status, e.request_id, e.created_at,
           e.processed_at
    FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(
        id text, tenant_id text, type text, source text, data jsonb, status text,
        request_id text, created_at timestamptz, processed_at timestamptz)
    WHERE EXISTS (SELECT FROM done)
)
SELECT count(*) FROM done
""")

# The isolation level the generic close switches its autocommit connection to.
_TRANSACTIONAL = {"sqlite": "SERIALIZABLE"}


def _is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default)


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


@dataclass(slots=True)
class Claimed:
    """What a successful claim reads: the execution, its steps, and the event
    patterns the tenant's rules and event workflows listened on at that moment
    (which decide whether the run's completion event needs evaluating)."""

    execution: ExecutionState
    steps: list[StepState]
    listener_patterns: list[str | None]


async def claim(
    conn: AsyncConnection,
    execution_id: str,
    owner: str,
    now: datetime,
    until: datetime,
    due: datetime,
) -> Claimed | None:
    """Take the lease and read the execution with its steps; None when someone else
    holds it, it is finished, or it is not due yet."""
    if _is_postgres(conn):
        params = {"id": execution_id, "owner": owner, "now": now, "until": until, "due": due}
        found = (await conn.execute(_PG_CLAIM, params)).one_or_none()
        if found is None:
            return None
        *fields, steps, patterns = found
        return Claimed(
            ExecutionState(*fields),
            [StepState(*row[:7], *(_timestamp(t) for t in row[7:])) for row in steps],
            patterns,
        )
    row = (
        await conn.execute(
            _CLAIM,
            {"p_id": execution_id, "p_owner": owner, "p_now": now, "p_until": until, "p_due": due},
        )
    ).one_or_none()
    if row is None:
        return None
    execution = ExecutionState(*row)
    rows = await conn.execute(
        _STEP_ROWS, {"p_execution_id": execution_id, "p_tenant_id": execution.tenant_id}
    )
    steps = [StepState(*r) for r in rows]
    return Claimed(execution, steps, await listener_patterns(conn, execution.tenant_id))


async def renew(conn: AsyncConnection, execution_id: str, owner: str, until: datetime) -> bool:
    result = await conn.execute(_RENEW, {"p_id": execution_id, "p_owner": owner, "p_until": until})
    return bool(result.rowcount == 1)


async def status_of(conn: AsyncConnection, execution_id: str) -> tuple[str, str | None] | None:
    row = (await conn.execute(_STATUS, {"p_id": execution_id})).one_or_none()
    return None if row is None else (row.status, row.lease_owner)


async def write_steps(conn: AsyncConnection, steps: list[StepState]) -> None:
    """Write the engine's copy of ``steps`` (one executemany)."""
    if steps:
        await conn.execute(_WRITE_STEP, [_step_params(s) for s in steps])


def _step_record(step: StepState) -> dict[str, Any]:
    # Not dataclasses.asdict: that deep-copies every output just to serialise it.
    return {"id": step.id, **{c: getattr(step, c) for c in _STEP_STATE_COLUMNS}}


def _step_params(step: StepState) -> dict[str, Any]:
    return {"p_id": step.id, **{f"v_{c}": getattr(step, c) for c in _STEP_STATE_COLUMNS}}


@asynccontextmanager
async def _transaction(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """``conn`` (in autocommit mode) inside a real transaction for a while."""
    await conn.commit()  # ends SQLAlchemy's autobegun (no-op) transaction
    await conn.execution_options(
        isolation_level=_TRANSACTIONAL.get(conn.dialect.name, "READ COMMITTED")
    )
    try:
        yield conn
        if conn.in_transaction():  # not when the block rolled back
            await conn.commit()
    except BaseException:
        await conn.rollback()
        raise
    finally:
        await conn.execution_options(isolation_level="AUTOCOMMIT")


async def close(
    conn: AsyncConnection,
    execution_id: str,
    owner: str,
    *,
    status: str,
    now: datetime,
    error: str | None = None,
    finished_at: datetime | None = None,
    resume_at: datetime | None = None,
    steps: list[StepState] | None = None,
    event: dict[str, Any] | None = None,
) -> bool:
    """Give up the lease leaving the execution ``status``, write ``steps`` and record
    ``event``, all or nothing, and only if we still hold the lease. ``conn`` is in
    autocommit mode."""
    steps = steps or []
    if _is_postgres(conn):
        params = {
            "id": execution_id,
            "owner": owner,
            "status": status,
            "error": error,
            "finished_at": finished_at,
            "resume_at": resume_at,
            "now": now,
            "steps": _to_json([_step_record(s) for s in steps]),
            "events": _to_json([event] if event else []),
        }
        return bool((await conn.execute(_PG_CLOSE, params)).scalar_one() == 1)
    async with _transaction(conn):
        params = {
            "p_id": execution_id,
            "p_owner": owner,
            "v_status": status,
            "v_error": error,
            "v_finished_at": finished_at,
            "v_resume_at": resume_at,
        }
        if (await conn.execute(_CLOSE, params)).rowcount != 1:
            await conn.rollback()
            return False
        await write_steps(conn, steps)
        if event:
            await conn.execute(_INSERT_EVENT, event)
    return True
