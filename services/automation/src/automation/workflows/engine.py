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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from automation import templating
from automation.celery_app import PRIORITY_QUEUES, TASK_RUN_EXECUTION
from automation.db import Database, utcnow
from automation.models import Event, StepRun, Workflow, WorkflowExecution, new_id
from automation.registry import ActionContext, ActionError, registry
from automation.rules.subscriptions import has_listeners
from automation.settings import Settings
from automation.steps.builtin import delay_seconds
from automation.workflows.definition import BRANCHING_TYPES, dependencies

log = logging.getLogger(__name__)

ACTIVE = ("pending", "running", "waiting")
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


def _settled(run: StepRun, spec: Mapping[str, Any]) -> bool:
    """Done in a way that lets dependent steps go on."""
    return run.status in ("succeeded", "skipped") or (
        run.status == "failed" and bool(spec.get("continue_on_fail"))
    )


@dataclass
class RunResult:
    """What one task run did with an execution."""

    claimed: bool
    status: str | None = None
    # The workflow.completed / workflow.failed event this run recorded, if it
    # finished and some rule or workflow listens for it (else it is recorded processed).
    event_id: str | None = None


class ExecutionRunner:
    """Runs executions in one worker thread; ``owner`` names this worker in leases."""

    def __init__(self, database: Database, settings: Settings, send: Sender, owner: str) -> None:
        self.database = database
        self.settings = settings
        self.send = send
        self.owner = owner
        self.lease = timedelta(seconds=settings.execution_lease_seconds)
        self.finished_event_id: str | None = None
        # Results of pure steps not written yet: they go out with the next write
        # (a pure step lost in a crash is simply run again).
        self._deferred: list[tuple[str, dict[str, Any]]] = []

    # -- lease ---------------------------------------------------------------

    async def _claim(self, execution_id: str) -> tuple[WorkflowExecution, list[StepRun]] | None:
        """Take the lease and read the execution with its steps, in one transaction;
        None when someone else holds it, it is finished, or it is not due yet."""
        now = utcnow()
        async with self.database.session() as session:
            result = await session.execute(
                update(WorkflowExecution)
                .where(
                    WorkflowExecution.id == execution_id,
                    WorkflowExecution.status.in_(ACTIVE),
                    (WorkflowExecution.lease_until.is_(None))
                    | (WorkflowExecution.lease_until < now),
                    (WorkflowExecution.resume_at.is_(None))
                    | (WorkflowExecution.resume_at <= now + timedelta(seconds=0.5)),
                )
                .values(
                    status="running",
                    lease_owner=self.owner,
                    lease_until=now + self.lease,
                    resume_at=None,
                    started_at=func.coalesce(WorkflowExecution.started_at, now),
                )
                .returning(WorkflowExecution)
                .execution_options(synchronize_session=False)
            )
            # The lease and the execution row in one round trip (RETURNING).
            execution = result.scalar_one_or_none()
            if execution is None:
                await session.rollback()
                return None
            rows = await session.execute(
                select(StepRun)
                .where(
                    StepRun.execution_id == execution_id, StepRun.tenant_id == execution.tenant_id
                )
                .order_by(StepRun.position)
            )
            runs = list(rows.scalars())
            await session.commit()
        return execution, runs

    async def _renew(self, execution_id: str) -> bool:
        async with self.database.session() as session:
            result = await session.execute(
                update(WorkflowExecution)
                .where(
                    WorkflowExecution.id == execution_id,
                    WorkflowExecution.lease_owner == self.owner,
                    WorkflowExecution.status == "running",
                )
                .values(lease_until=utcnow() + self.lease)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)

    async def _release(self, execution_id: str, **values: Any) -> bool:
        """Leave the execution with ``values`` (its new status...) if we still hold it."""
        async with self.database.session() as session:
            result = await session.execute(
                update(WorkflowExecution)
                .where(
                    WorkflowExecution.id == execution_id,
                    WorkflowExecution.lease_owner == self.owner,
                    WorkflowExecution.status == "running",
                )
                .values(lease_owner=None, lease_until=None, **values)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                await session.rollback()
                self._deferred.clear()
                return False
            await self._flush_deferred(session)
            await session.commit()
        return True

    async def _keep_lease(self, execution_id: str, lost: asyncio.Event) -> None:
        interval = max(0.2, self.lease.total_seconds() / 3)
        while not lost.is_set():
            await asyncio.sleep(interval)
            if not await self._renew(execution_id):
                lost.set()

    # -- running ---------------------------------------------------------------

    async def run(self, execution_id: str) -> RunResult:
        claimed = await self._claim(execution_id)
        if claimed is None:
            return RunResult(claimed=False)
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(execution_id, lost))
        try:
            status = await self._advance(*claimed, lost)
        except Exception as exc:
            log.exception("execution %s crashed in the engine", execution_id)
            await self._release(
                execution_id,
                status="failed",
                finished_at=utcnow(),
                error=f"engine error: {type(exc).__name__}: {exc}"[:2000],
            )
            status = "failed"
        finally:
            lost.set()
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        return RunResult(claimed=True, status=status, event_id=self.finished_event_id)

    async def _still_ours(self, execution_id: str) -> tuple[bool, str | None]:
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(WorkflowExecution.status, WorkflowExecution.lease_owner).where(
                        WorkflowExecution.id == execution_id
                    )
                )
            ).one_or_none()
        if row is None:
            return False, None
        return row.status == "running" and row.lease_owner == self.owner, row.status

    async def _advance(
        self, execution: WorkflowExecution, runs: list[StepRun], lost: asyncio.Event
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
            ready: list[StepRun] = []
            waiting: list[StepRun] = []
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
                if await self._release(execution_id, status="waiting", resume_at=resume_at):
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
        self, execution: WorkflowExecution, step_ids: list[str], by_id: dict[str, StepRun]
    ) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(StepRun)
                .where(
                    StepRun.execution_id == execution.id,
                    StepRun.step_id.in_(step_ids),
                    StepRun.status == "pending",
                )
                .values(status="skipped", finished_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await self._flush_deferred(session)
            await session.commit()
        for step_id in step_ids:
            if step_id in by_id and by_id[step_id].status == "pending":
                by_id[step_id].status = "skipped"

    def _scope(self, execution: WorkflowExecution, by_id: dict[str, StepRun]) -> dict[str, Any]:
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

    async def _flush_deferred(self, session: AsyncSession) -> None:
        if not self._deferred:
            return
        # Rows with the same columns go out as one executemany (one round trip
        # on asyncpg) instead of one UPDATE each.
        batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for run_id, values in self._deferred:
            batches.setdefault(tuple(sorted(values)), []).append({"id": run_id, **values})
        self._deferred.clear()
        for rows in batches.values():
            await session.execute(
                update(StepRun).execution_options(synchronize_session=False), rows
            )

    async def _save_step(self, run: StepRun, *, defer: bool = False, **values: Any) -> None:
        """Write a step's new state (with any deferred ones), and keep the in-memory
        row the same. ``defer`` holds the write for the next one (pure steps)."""
        for key, value in values.items():
            setattr(run, key, value)
        if defer:
            self._deferred.append((run.id, values))
            return
        async with self.database.session() as session:
            await self._flush_deferred(session)
            await session.execute(
                update(StepRun)
                .where(StepRun.id == run.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def _run_step(
        self,
        execution: WorkflowExecution,
        run: StepRun,
        spec: dict[str, Any],
        by_id: dict[str, StepRun],
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
        try:
            rendered = (
                templating.render(config, scope, "config") if action_type.render_config else config
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
        timeout = spec.get("timeout_seconds")
        try:
            async with asyncio.timeout(timeout):
                output = await action_type.run(ctx, rendered)
            output = _json_safe(output, "output")
        except TimeoutError:
            error = f"timed out after {timeout}s"
        except Exception as exc:
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

    async def _finish(self, execution: WorkflowExecution, status: str, error: str | None) -> None:
        """Close the execution and record its ``workflow.completed``/``workflow.failed``
        event in one transaction (only if we still hold it), then queue the event."""
        event_type = "workflow.completed" if status == "succeeded" else "workflow.failed"
        async with self.database.session() as session:
            result = await session.execute(
                update(WorkflowExecution)
                .where(
                    WorkflowExecution.id == execution.id,
                    WorkflowExecution.lease_owner == self.owner,
                    WorkflowExecution.status == "running",
                )
                .values(
                    lease_owner=None,
                    lease_until=None,
                    status=status,
                    error=error,
                    finished_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                await session.rollback()
                self._deferred.clear()
                return
            await self._flush_deferred(session)
            # Most completion events wake nothing up: when no enabled rule or
            # event workflow of the tenant matches, the event is recorded as
            # already processed and nobody evaluates it again.
            listened = await has_listeners(session, execution.tenant_id, event_type)
            # A Core INSERT (no unit-of-work flush) with the id made here.
            event_id = new_id()
            await session.execute(
                insert(Event).values(
                    id=event_id,
                    tenant_id=execution.tenant_id,
                    type=event_type,
                    status="received" if listened else "processed",
                    processed_at=None if listened else utcnow(),
                    source="workflow",
                    data={
                        "workflow_id": execution.workflow_id,
                        "execution_id": execution.id,
                        "status": status,
                        "error": error,
                    },
                    request_id=execution.request_id,
                )
            )
            await session.commit()
        log.info("execution %s of workflow %s %s", execution.id, execution.workflow_id, status)
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
