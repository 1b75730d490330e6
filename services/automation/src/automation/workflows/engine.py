"""The durable workflow engine.

An execution is a row plus one row per step. A worker runs an execution only
while it holds the execution's *lease* (``lease_owner``/``lease_until``, taken
with one conditional UPDATE and renewed while it works). Every step's start
and end are committed as they happen, so a worker that dies leaves the rows
saying exactly what finished; when its lease runs out the scheduler hands the
execution to another worker, which carries on from there without re-running
finished steps.

Waits (a ``delay`` step, the pause before a retry) never hold a worker: the
step is parked with ``next_attempt_at``, the execution with ``resume_at``, and
the run is picked up again by a short broker countdown or, for long waits, by
the scheduler tick reading the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from automation import dbfaults, sandbox, templating
from automation.celery_app import PRIORITY_QUEUES, TASK_RUN_EXECUTION
from automation.db import Database, utcnow
from automation.models import StepRun, Workflow, WorkflowExecution, new_id
from automation.registry import ActionContext, ActionError, registry
from automation.rules.subscriptions import any_listens
from automation.settings import Settings
from automation.steps.builtin import delay_seconds
from automation.workflows import store
from automation.workflows.definition import BRANCHING_TYPES, dependencies
from automation.workflows.store import ACTIVE, ExecutionState, StepState
from mimeia_telemetry import tracing

log = logging.getLogger(__name__)
T = TypeVar("T")

FINAL = ("succeeded", "failed", "cancelled")
MAX_OUTPUT_BYTES = 1_000_000
_random = secrets.SystemRandom()

# send(task_name, args, queue, countdown)
Sender = Callable[[str, tuple[Any, ...], str | None, float | None], None]


async def create_execution(
    session: AsyncSession,
    workflow: Workflow,
    *,
    input_data: dict[str, Any],
    context: dict[str, Any] | None = None,
    priority: str = "normal",
    trigger: str = "manual",
    request_id: str | None = None,
) -> WorkflowExecution:
    """Add an execution of ``workflow`` (and its step rows) to ``session``; the caller
    commits and then calls :func:`dispatch`."""
    execution = WorkflowExecution(
        tenant_id=workflow.tenant_id,
        workflow_id=workflow.id,
        priority=priority,
        trigger=trigger,
        input=input_data,
        context=context or {},
        definition=workflow.steps,
        request_id=request_id,
        # the request's (or rule run's) trace, kept by every step of the run
        traceparent=tracing.current_traceparent(),
        status="pending",
    )
    session.add(execution)
    await session.flush()
    for position, step in enumerate(workflow.steps):
        session.add(
            StepRun(
                tenant_id=workflow.tenant_id,
                execution_id=execution.id,
                step_id=step["id"],
                type=step["type"],
                position=position,
            )
        )
    return execution


def dispatch(
    send: Sender, execution_id: str, priority: str = "normal", countdown: float | None = None
) -> None:
    send(TASK_RUN_EXECUTION, (execution_id,), PRIORITY_QUEUES.get(priority, "workflow"), countdown)


def backoff_seconds(retry: Mapping[str, Any], attempt: int) -> float:
    """Wait before attempt ``attempt + 1`` under a step's retry policy."""
    base = float(retry.get("delay_seconds", 1.0))
    if retry.get("backoff", "exponential") == "exponential":
        base *= 2 ** (attempt - 1)
    wait = min(base, float(retry.get("max_delay_seconds", 3600.0)))
    if retry.get("jitter", True):
        wait = _random.uniform(wait / 2, wait)
    return wait


def _json_safe(value: Any, what: str) -> Any:
    text = json.dumps(value, default=str)
    if len(text) > MAX_OUTPUT_BYTES:
        raise ActionError(f"{what} is larger than {MAX_OUTPUT_BYTES} bytes")
    return json.loads(text)


def _has_side_effects(spec: Mapping[str, Any]) -> bool:
    action_type = registry.get(spec["type"])
    return action_type is None or action_type.side_effects


def _settled(run: StepState, spec: Mapping[str, Any]) -> bool:
    """Done in a way that lets dependent steps go on."""
    return run.status in ("succeeded", "skipped") or (
        run.status == "failed" and bool(spec.get("continue_on_fail"))
    )


class LeaseLost(Exception):
    """Another worker holds the execution now (ours ran out during an outage)."""


@dataclass
class RunResult:
    """What one task run did with an execution."""

    claimed: bool
    status: str | None = None
    # The workflow.completed / workflow.failed event this run recorded, if it
    # finished and some rule or workflow listens for it (else it is recorded processed).
    event_id: str | None = None


class ExecutionRunner:
    """Runs executions in one worker thread; ``owner`` names this worker in leases.

    A run uses one database connection from start to end, in autocommit mode: the
    claim is one statement, each write of a step with side effects is one, and
    closing the run (execution row, step rows, completion event) is all or nothing
    (see :mod:`automation.workflows.store`). Steps running in parallel share the
    connection, one statement at a time.
    """

    def __init__(self, database: Database, settings: Settings, send: Sender, owner: str) -> None:
        self.database = database
        self.settings = settings
        self.send = send
        self.owner = owner
        self.lease = timedelta(seconds=settings.execution_lease_seconds)
        self.finished_event_id: str | None = None
        # Steps changed in memory but not written yet, by row id. Results of pure
        # steps wait here for the next write (a pure step lost in a crash is
        # simply run again); everything else is written straight away.
        self._dirty: dict[str, StepState] = {}
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._listener_patterns: list[str | None] = []
        self._claimed = False
        self._lost = asyncio.Event()
        self._execution_id = ""
        # how many times this run reconnected to the database
        self.reconnects = 0

    async def _db(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work(conn)`` on the run's connection, one statement or a few at a time.

        A lost connection is not the run's failure: the connection is dropped, a new
        one is opened with backoff (for up to ``DATABASE_OUTAGE_SECONDS``), the
        lease is renewed on it first (a run that lost its lease meanwhile stops
        with :class:`LeaseLost`), and ``work`` runs again. Every statement the
        engine sends is safe to repeat: writes set a step's whole state, and a
        close that did commit before the answer was lost is recognised."""
        async with self._lock:
            return await self._with_reconnect(work)

    async def _with_reconnect(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        started = asyncio.get_running_loop().time()
        attempt = 0
        while True:
            if self._claimed and self._lost.is_set():
                raise LeaseLost(self._execution_id)
            try:
                if self._conn is None:
                    self._conn = await self.database.autocommit_engine.connect()
                    if attempt and self._claimed and not self._lost.is_set():
                        renewed = await store.renew(
                            self._conn, self._execution_id, self.owner, utcnow() + self.lease
                        )
                        if not renewed:
                            self._lost.set()
                            raise LeaseLost(self._execution_id)
                    if attempt:
                        log.info("execution %s: database connection back after %d tries",
                                 self._execution_id, attempt)  # fmt: skip
                return await work(self._conn)
            except Exception as exc:
                if not dbfaults.is_connection_error(exc):
                    raise
                attempt += 1
                self.reconnects += 1
                await self._drop_connection()
                waited = asyncio.get_running_loop().time() - started
                if waited >= self.settings.database_outage_seconds:
                    raise dbfaults.DatabaseUnavailable(
                        f"no database for {waited:.1f}s: {type(exc).__name__}: {exc}"
                    ) from exc
                if attempt == 1:
                    log.warning("execution %s: database connection lost (%s); reconnecting",
                                self._execution_id, type(exc).__name__)  # fmt: skip
                else:
                    # the first retry is at once: usually only the pooled connection
                    # was stale (the pool drops its peers along with it)
                    await asyncio.sleep(dbfaults.backoff(attempt - 1))

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.invalidate()
            await conn.close()
        except Exception:
            log.debug("closing a broken connection failed", exc_info=True)

    def _take_dirty(self) -> list[StepState]:
        steps, self._dirty = list(self._dirty.values()), {}
        return steps

    # -- lease ---------------------------------------------------------------

    async def _renew(self, execution_id: str) -> bool:
        return await self._db(
            lambda conn: store.renew(conn, execution_id, self.owner, utcnow() + self.lease)
        )

    async def _close(self, execution_id: str, **values: Any) -> bool:
        """Leave the execution with ``values`` (its new status...) and the pending step
        writes, if we still hold it."""
        steps = self._take_dirty()
        tries = 0

        async def close(conn: AsyncConnection) -> bool:
            nonlocal tries
            tries += 1
            done = await store.close(
                conn, execution_id, self.owner, now=utcnow(), steps=steps, **values
            )
            if not done and tries > 1:
                # The first try may have committed before its answer was lost.
                row = await store.status_of(conn, execution_id)
                done = row is not None and row == (values["status"], None)
            return done

        return await self._db(close)

    async def _keep_lease(self, execution_id: str, lost: asyncio.Event) -> None:
        """The heartbeat: renew the short lease every third of it while the run
        works, so a worker that dies is noticed within one lease."""
        interval = max(0.2, self.lease.total_seconds() / 3)
        while not lost.is_set():
            await asyncio.sleep(interval)
            try:
                if not await self._renew(execution_id):
                    lost.set()
            except LeaseLost:
                lost.set()
            except Exception:
                log.warning("execution %s: lease renewal failed", execution_id, exc_info=True)

    # -- running ---------------------------------------------------------------

    async def run(self, execution_id: str) -> RunResult:
        """Claim the execution and advance it. Raises
        :class:`~automation.dbfaults.DatabaseUnavailable` when the database stays away
        longer than ``DATABASE_OUTAGE_SECONDS``: the run is then neither failed nor
        released; its lease runs out and it resumes from its last written step."""
        self._execution_id = execution_id
        try:
            return await self._run(execution_id)
        except LeaseLost:
            return RunResult(claimed=True, status="running")
        finally:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    await conn.close()
                except Exception:
                    log.debug("closing the run's connection failed", exc_info=True)

    async def _run(self, execution_id: str) -> RunResult:
        async def claim(conn: AsyncConnection) -> store.Claimed | None:
            now = utcnow()
            return await store.claim(
                conn,
                execution_id,
                self.owner,
                now=now,
                until=now + self.lease,
                due=now + timedelta(seconds=0.5),
            )

        claimed = await self._db(claim)
        if claimed is None:
            return RunResult(claimed=False)
        self._claimed = True
        self._listener_patterns = claimed.listener_patterns
        lost = self._lost
        keeper = asyncio.create_task(self._keep_lease(execution_id, lost))
        try:
            status = await self._advance(claimed.execution, claimed.steps, lost)
        except (LeaseLost, dbfaults.DatabaseUnavailable):
            raise
        except Exception as exc:
            log.exception("execution %s crashed in the engine", execution_id)
            status = "failed"
            error = f"engine error: {type(exc).__name__}: {exc}"[:2000]
            self._dirty.clear()
            # The run's connection may be what broke: close the run on a fresh one.
            now = utcnow()
            async with self.database.autocommit_engine.connect() as fresh:
                await store.close(
                    fresh,
                    execution_id,
                    self.owner,
                    status=status,
                    now=now,
                    finished_at=now,
                    error=error,
                )
        finally:
            lost.set()
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        return RunResult(claimed=True, status=status, event_id=self.finished_event_id)

    async def _waited_for_database(self) -> bool:
        """After a handler met a database outage: wait until the database answers
        (renewing the lease); False when it answered straight away (so the outage
        was the handler's own business)."""
        before = self.reconnects
        await self._drop_connection_locked()
        if not await self._renew(self._execution_id):
            self._lost.set()
            raise LeaseLost(self._execution_id)
        return self.reconnects > before

    async def _drop_connection_locked(self) -> None:
        async with self._lock:
            await self._drop_connection()

    async def _still_ours(self, execution_id: str) -> tuple[bool, str | None]:
        row = await self._db(lambda conn: store.status_of(conn, execution_id))
        if row is None:
            return False, None
        status, owner = row
        return status == "running" and owner == self.owner, status

    async def _advance(
        self, execution: ExecutionState, runs: list[StepState], lost: asyncio.Event
    ) -> str | None:
        # While we hold the lease nobody else writes these rows (a cancel only
        # flips the execution's status), so the step rows are read once and kept
        # current in memory as we write them.
        execution_id = execution.id
        specs = {s["id"]: s for s in execution.definition}
        deps = dependencies(execution.definition)
        by_id = {r.step_id: r for r in runs}
        checked = True  # the claim just read the status
        while True:
            if lost.is_set():
                return "running"
            now = utcnow()

            def settled(step_id: str) -> bool:
                return _settled(by_id[step_id], specs[step_id])

            blocking = [r for r in runs if r.status == "failed" and not settled(r.step_id)]
            if blocking:
                first = blocking[0]
                error = f"step {first.step_id!r} failed: {first.error}"
                await self._finish(execution, "failed", error)
                return "failed"

            to_skip: list[str] = []
            ready: list[StepState] = []
            waiting: list[StepState] = []
            for run in runs:
                if run.status == "pending":
                    step_deps = deps[run.step_id]
                    if all(settled(d) for d in step_deps):
                        if step_deps and all(by_id[d].status == "skipped" for d in step_deps):
                            to_skip.append(run.step_id)
                        else:
                            ready.append(run)
                elif run.status == "running":
                    ready.append(run)  # its worker died mid-step; we hold the lease now
                elif run.status == "waiting":
                    due = run.next_attempt_at is None or run.next_attempt_at <= now
                    (ready if due else waiting).append(run)
            if to_skip:
                await self._skip(execution, to_skip, by_id)
                continue
            if ready:
                # Before anything with side effects starts, make sure the run was
                # not cancelled meanwhile (pure steps may run regardless).
                if not checked and any(_has_side_effects(specs[r.step_id]) for r in ready):
                    ours, status = await self._still_ours(execution_id)
                    if not ours:
                        return status
                checked = False
                await asyncio.gather(
                    *(self._run_step(execution, run, specs[run.step_id], by_id) for run in ready)
                )
                continue
            if waiting:
                resume_at = min(r.next_attempt_at for r in waiting if r.next_attempt_at)
                if await self._close(execution_id, status="waiting", resume_at=resume_at):
                    wait = (resume_at - utcnow()).total_seconds()
                    if wait <= self.settings.max_countdown_seconds:
                        dispatch(self.send, execution_id, execution.priority, max(0.0, wait))
                return "waiting"
            if all(settled(r.step_id) for r in runs):
                await self._finish(execution, "succeeded", None)
                return "succeeded"
            await self._finish(execution, "failed", "no step can run (unsatisfied dependencies)")
            return "failed"

    async def _skip(
        self, execution: ExecutionState, step_ids: list[str], by_id: dict[str, StepState]
    ) -> None:
        # Written with the next write: a skip lost in a crash is worked out again
        # from the same (persisted or re-run) outputs.
        now = utcnow()
        for step_id in step_ids:
            run = by_id.get(step_id)
            if run is not None and run.status == "pending":
                run.status = "skipped"
                run.finished_at = now
                self._dirty[run.id] = run

    def _scope(self, execution: ExecutionState, by_id: dict[str, StepState]) -> dict[str, Any]:
        steps = {
            sid: {"output": r.output, "status": r.status, "error": r.error}
            for sid, r in by_id.items()
            if r.status in ("succeeded", "failed", "skipped")
        }
        return {
            **execution.input,
            "input": execution.input,
            "context": execution.context,
            "steps": steps,
            "execution": {
                "id": execution.id,
                "workflow_id": execution.workflow_id,
                "tenant_id": execution.tenant_id,
                "trigger": execution.trigger,
            },
        }

    async def _save_step(self, run: StepState, *, defer: bool = False, **values: Any) -> None:
        """Change a step's state, and write it (with any deferred ones) unless
        ``defer`` holds it for the next write (pure steps)."""
        for key, value in values.items():
            setattr(run, key, value)
        self._dirty[run.id] = run
        if not defer:
            steps = self._take_dirty()
            await self._db(lambda conn: store.write_steps(conn, steps))

    async def _run_step(
        self,
        execution: ExecutionState,
        run: StepState,
        spec: dict[str, Any],
        by_id: dict[str, StepState],
    ) -> None:
        # In the trace that started the execution: under the current span when this
        # run is part of it (the task the request queued), else (a resume by the
        # scheduler, another worker) under the stored span, linked to the current one.
        with tracing.resume(
            execution.traceparent,
            "workflow.step",
            step=run.step_id,
            attempt=run.attempts + 1,
            attributes={"step.type": spec["type"]},
        ):
            await self._step(execution, run, spec, by_id)

    async def _step(
        self,
        execution: ExecutionState,
        run: StepState,
        spec: dict[str, Any],
        by_id: dict[str, StepState],
    ) -> None:
        scope = self._scope(execution, by_id)
        action_type = registry.get(spec["type"])
        now = utcnow()
        if action_type is None:
            await self._save_step(
                run,
                status="failed",
                finished_at=now,
                attempts=run.attempts + 1,
                error=f"step type {spec['type']!r} is not installed",
            )
            return
        config = spec.get("config", {})
        timeout = spec.get("timeout_seconds")
        try:
            # Off the loop (other executions go on meanwhile), and a step's timeout
            # stops its templates too.
            with sandbox.time_limit(timeout):
                rendered = (
                    await templating.render_async(config, scope, "config")
                    if action_type.render_config
                    else config
                )
        except templating.TemplateError as exc:
            # A template that cannot render will not render on a retry either.
            await self._save_step(
                run,
                status="failed",
                attempts=run.attempts + 1,
                started_at=run.started_at or now,
                finished_at=now,
                error=str(exc),
            )
            return

        if spec["type"] == "delay":
            if run.status == "waiting":
                await self._save_step(
                    run,
                    status="succeeded",
                    finished_at=now,
                    output={"waited_until": now.isoformat()},
                )
                return
            try:
                seconds = delay_seconds(rendered, now)
            except ActionError as exc:
                await self._save_step(
                    run,
                    status="failed",
                    attempts=1,
                    started_at=now,
                    finished_at=now,
                    error=str(exc),
                )
                return
            if seconds <= 0:
                await self._save_step(
                    run,
                    status="succeeded",
                    attempts=1,
                    started_at=now,
                    finished_at=now,
                    input=rendered,
                    output={"waited_until": now.isoformat()},
                )
                return
            await self._save_step(
                run,
                status="waiting",
                attempts=1,
                started_at=now,
                input=_json_safe(rendered, "input"),
                next_attempt_at=now + timedelta(seconds=seconds),
            )
            return

        attempt = run.attempts + 1
        started = {
            "attempts": attempt,
            "next_attempt_at": None,
            "started_at": run.started_at or now,
            "input": _json_safe(rendered, "input"),
        }
        if action_type.side_effects:
            # Recorded before the handler runs, so a worker that dies mid-step
            # leaves the attempt counted. A step without side effects is simply
            # run again, so its start and end go in one write.
            await self._save_step(run, status="running", **started)
            started = {}
        ctx = ActionContext(
            tenant_id=execution.tenant_id,
            settings=self.settings,
            database=self.database,
            source="workflow",
            run_id=execution.id,
            step_id=run.step_id,
            attempt=attempt,
            request_id=execution.request_id,
            scope=scope,
            send=self.send,
        )
        try:
            async with asyncio.timeout(timeout):
                with sandbox.time_limit(timeout):  # templates the handler renders itself
                    output = await action_type.run(ctx, rendered)
            output = _json_safe(output, "output")
        except TimeoutError:
            error = f"timed out after {timeout}s"
        except Exception as exc:
            if dbfaults.is_database_outage(exc) and await self._waited_for_database():
                # The handler lost the database; the step's outcome is unknown, so it
                # runs again (same idempotency key) now that the database answers.
                return
            error = str(exc) if isinstance(exc, ActionError) else f"{type(exc).__name__}: {exc}"
        else:
            pure = not action_type.side_effects
            await self._save_step(
                run,
                defer=pure,
                status="succeeded",
                output=output,
                error=None,
                finished_at=utcnow(),
                **started,
            )
            if spec["type"] in BRANCHING_TYPES and isinstance(output, dict):
                not_taken = "else" if output.get("result") else "then"
                targets = [t for t in spec.get("config", {}).get(not_taken, [])]
                if targets:
                    await self._skip(execution, targets, by_id)
            return
        retry = spec.get("retry") or {}
        if attempt < int(retry.get("max_attempts", 1)):
            wait = backoff_seconds(retry, attempt)
            await self._save_step(
                run,
                **started,
                status="waiting",
                error=error[:4000],
                next_attempt_at=utcnow() + timedelta(seconds=wait),
            )
        else:
            await self._save_step(
                run, **started, status="failed", error=error[:4000], finished_at=utcnow()
            )

    async def _finish(self, execution: ExecutionState, status: str, error: str | None) -> None:
        """Close the execution and record its ``workflow.completed``/``workflow.failed``
        event, all or nothing (only if we still hold it)."""
        event_type = "workflow.completed" if status == "succeeded" else "workflow.failed"
        # Most completion events wake nothing up: when no enabled rule or event
        # workflow of the tenant matched at the claim, the event is recorded as
        # already processed and nobody evaluates it again. (So a rule applies to
        # runs claimed after it was saved.)
        listened = any_listens(self._listener_patterns, event_type)
        now = utcnow()
        event_id = new_id()
        event: dict[str, Any] = {
            "id": event_id,
            "tenant_id": execution.tenant_id,
            "type": event_type,
            "source": "workflow",
            "data": {
                "workflow_id": execution.workflow_id,
                "execution_id": execution.id,
                "status": status,
                "error": error,
            },
            "status": "received" if listened else "processed",
            "request_id": execution.request_id,
            "created_at": now,
            "processed_at": None if listened else now,
        }
        if not await self._close(
            execution.id, status=status, error=error, finished_at=now, event=event
        ):
            return
        log.debug("execution %s of workflow %s %s", execution.id, execution.workflow_id, status)
        self.finished_event_id = event_id if listened else None


async def cancel(session: AsyncSession, execution: WorkflowExecution) -> bool:
    """Stop an active execution: no further step starts (a running step finishes)."""
    result = await session.execute(
        update(WorkflowExecution)
        .where(WorkflowExecution.id == execution.id, WorkflowExecution.status.in_(ACTIVE))
        .values(
            status="cancelled",
            finished_at=utcnow(),
            lease_owner=None,
            lease_until=None,
            resume_at=None,
            error="cancelled",
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(StepRun)
        .where(StepRun.execution_id == execution.id, StepRun.status.in_(("pending", "waiting")))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


async def prepare_rerun(session: AsyncSession, execution: WorkflowExecution) -> None:
    """Reset a failed execution so it runs again from its failed step(s); finished
    steps keep their outputs and do not run again."""
    await session.execute(
        update(StepRun)
        .where(
            StepRun.execution_id == execution.id,
            StepRun.status.in_(("failed", "cancelled", "waiting", "running")),
        )
        .values(
            status="pending",
            error=None,
            output=None,
            attempts=0,
            next_attempt_at=None,
            started_at=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    execution.status = "pending"
    execution.error = None
    execution.finished_at = None
    execution.resume_at = None
    execution.lease_owner = None
    execution.lease_until = None
    execution.run_count += 1
    await session.commit()


def due_for_recovery(now: datetime, pending_grace: timedelta) -> Any:
    """Executions the scheduler should (re)send: waits that are due, leases that ran
    out (a worker died), and pending runs whose message seems lost."""
    return (
        ((WorkflowExecution.status == "waiting") & (WorkflowExecution.resume_at <= now))
        | ((WorkflowExecution.status == "running") & (WorkflowExecution.lease_until < now))
        | (
            (WorkflowExecution.status == "pending")
            & WorkflowExecution.lease_until.is_(None)
            & (WorkflowExecution.updated_at < now - pending_grace)
        )
    )
