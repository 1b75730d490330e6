"""The scheduler tick (run by beat, or by the embedded worker's timer).

Each tick: start workflows whose cron is due, fire rules whose schedule is due,
and (re)send executions that are due to resume, whose worker died (lease ran
out), or whose message went missing. Everything it reads is in the database,
so a tick can run anywhere and twice without harm: each step is a conditional
UPDATE that only one tick wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from automation.celery_app import TASK_PROCESS_EVENT
from automation.db import Database, utcnow
from automation.models import AutomationRule, Event, Workflow, WorkflowExecution
from automation.schedule import next_fire
from automation.settings import Settings
from automation.workflows.engine import Sender, create_execution, dispatch, due_for_recovery

log = logging.getLogger(__name__)

BATCH = 200
# An event still unprocessed this long after it was stored was lost on its way.
STALE_EVENT_SECONDS = 60.0
# A run still pending this long after its last change lost its broker message (a
# task is never acked before its run starts, so this is the last-resort net; a
# shorter grace would resend every run of a long queue over and over).
PENDING_GRACE_SECONDS = 60.0


@dataclass
class TickReport:
    started: list[str] = field(default_factory=list)
    rules_fired: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    requeued_events: list[str] = field(default_factory=list)


async def tick(database: Database, settings: Settings, send: Sender) -> TickReport:
    report = TickReport()
    now = utcnow()
    await _start_due_workflows(database, send, report)
    await _fire_due_rules(database, settings, send, report)
    grace = timedelta(seconds=max(PENDING_GRACE_SECONDS, settings.execution_lease_seconds))
    async with database.session() as session:
        rows = await session.execute(
            select(WorkflowExecution.id, WorkflowExecution.priority, WorkflowExecution.status)
            .where(due_for_recovery(now, grace))
            .limit(BATCH)
        )
        for execution_id, priority, status in rows.all():
            # Mark it pending again (only one tick wins), then send it.
            won = await session.execute(
                update(WorkflowExecution)
                .where(
                    WorkflowExecution.id == execution_id,
                    WorkflowExecution.status == status,
                    due_for_recovery(now, grace),
                )
                .values(
                    status="pending",
                    resume_at=None,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if getattr(won, "rowcount", 0) == 1:
                # A run whose worker died has waited a lease already: it goes to the
                # front (the critical queue), not behind the backlog of new runs.
                dispatch(send, execution_id, "critical" if status == "running" else priority)
                report.resent.append(execution_id)
    await _requeue_stale_events(database, send, report)
    return report


async def _requeue_stale_events(database: Database, send: Sender, report: TickReport) -> None:
    """Events stored but never evaluated (the process died between its commit and
    queueing the task): queue them again. Evaluation is idempotent."""
    cutoff = utcnow() - timedelta(seconds=STALE_EVENT_SECONDS)
    async with database.session() as session:
        stale = (
            (
                await session.execute(
                    select(Event.id)
                    .where(Event.status == "received", Event.created_at < cutoff)
                    .order_by(Event.created_at)
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
    for event_id in stale:
        send(TASK_PROCESS_EVENT, (event_id,), "automation", None)
        report.requeued_events.append(event_id)


async def _claim_firing(
    session: AsyncSession, row: Workflow | AutomationRule, schedule: dict[str, Any], now: datetime
) -> bool:
    """Move a due row's ``next_run_at`` to its next firing; only one tick wins."""
    model = type(row)
    won = await session.execute(
        update(model)
        .where(model.id == row.id, model.next_run_at == row.next_run_at)
        .values(next_run_at=next_fire(schedule["cron"], now, schedule.get("timezone")))
        .execution_options(synchronize_session=False)
    )
    return getattr(won, "rowcount", 0) == 1


async def _start_due_workflows(database: Database, send: Sender, report: TickReport) -> None:
    now = utcnow()
    async with database.session() as session:
        due = (
            (
                await session.execute(
                    select(Workflow)
                    .where(
                        Workflow.trigger_type == "schedule",
                        Workflow.enabled.is_(True),
                        Workflow.next_run_at <= now,
                    )
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
        for workflow in due:
            if not await _claim_firing(session, workflow, workflow.trigger_config, now):
                await session.rollback()
                continue
            execution = await create_execution(
                session,
                workflow,
                input_data={"scheduled_at": now.isoformat()},
                trigger="schedule",
            )
            await session.commit()
            dispatch(send, execution.id, execution.priority)
            report.started.append(execution.id)


async def _fire_due_rules(
    database: Database, settings: Settings, send: Sender, report: TickReport
) -> None:
    from automation.rules.engine import run_scheduled_rule

    now = utcnow()
    async with database.session() as session:
        due = (
            (
                await session.execute(
                    select(AutomationRule)
                    .where(AutomationRule.enabled.is_(True), AutomationRule.next_run_at <= now)
                    .limit(BATCH)
                )
            )
            .scalars()
            .all()
        )
        for rule in due:
            won = await _claim_firing(session, rule, rule.trigger, now)
            await session.commit()
            if won:
                report.rules_fired.append(rule.id)
                await run_scheduled_rule(database, settings, send, rule.id, now)
