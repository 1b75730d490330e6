"""Evaluating events against rules, and starting event-triggered workflows."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select, update

from automation import templating
from automation.db import Database, utcnow
from automation.models import AutomationRule, Event, RuleExecution, Workflow
from automation.registry import ActionContext, registry
from automation.rules.conditions import Condition, check_problems, evaluate_all
from automation.rules.subscriptions import rule_listens, workflow_listens
from automation.settings import Settings
from automation.workflows.engine import Sender, create_execution, dispatch

log = logging.getLogger(__name__)

_conditions = TypeAdapter(list[Condition])


def action_problems(actions: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    for i, action in enumerate(actions):
        where = f"actions[{i}]"
        kind = action.get("type")
        action_type = registry.get(kind) if isinstance(kind, str) else None
        if action_type is None or "action" not in action_type.usable_as:
            known = ", ".join(registry.names("action"))
            problems.append(f"{where}.type: unknown action type {kind!r} (known: {known})")
            continue
        config = {k: v for k, v in action.items() if k != "type"}
        problems.extend(f"{where}.{p}" for p in action_type.problems(config))
        if action_type.render_config:
            problems.extend(templating.syntax_problems(config, where))
    return problems


def condition_problems(conditions: list[Condition]) -> list[str]:
    out: list[str] = []
    for i, c in enumerate(conditions):
        out.extend(check_problems(c, f"conditions[{i}]"))
    return out


def event_scope(event: Event) -> dict[str, Any]:
    data = event.data if isinstance(event.data, dict) else {}
    return {
        **data,
        "data": data,
        "event": {
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "created_at": event.created_at.isoformat(),
            "data": data,
        },
    }


async def _run_rule(
    database: Database, settings: Settings, send: Sender, rule: AutomationRule, event: Event
) -> bool:
    """Evaluate one rule against one event, run its actions if it matches, record it.
    Returns whether it matched."""
    scope = event_scope(event)
    conditions = _conditions.validate_python(rule.conditions)
    matched, results = evaluate_all(conditions, rule.condition_logic, scope)
    async with database.session() as session:
        record = RuleExecution(
            tenant_id=rule.tenant_id,
            rule_id=rule.id,
            event_id=event.id,
            matched=matched,
            condition_results=results,
            status="running" if matched else "not_matched",
        )
        if not matched:
            record.finished_at = utcnow()
        session.add(record)
        await session.commit()
        record_id = record.id
    if not matched:
        return False
    action_results: list[dict[str, Any]] = []
    failed = False
    for i, action in enumerate(rule.actions):
        kind = action.get("type")
        action_type = registry.get(kind) if isinstance(kind, str) else None
        entry: dict[str, Any] = {"index": i, "type": kind}
        try:
            if action_type is None:
                raise RuntimeError(f"action type {kind!r} is not installed")
            config = {k: v for k, v in action.items() if k != "type"}
            if action_type.render_config:
                config = await templating.render_async(config, scope, f"actions[{i}]")
            ctx = ActionContext(
                tenant_id=rule.tenant_id,
                settings=settings,
                database=database,
                source="rule",
                run_id=record_id,
                step_id=f"action-{i}",
                request_id=event.request_id,
                scope=scope,
                send=send,
            )
            output = await action_type.run(ctx, config)
            entry.update(status="succeeded", output=output)
        except Exception as exc:
            failed = True
            entry.update(status="failed", error=str(exc)[:2000])
        action_results.append(entry)
    async with database.session() as session:
        await session.execute(
            update(RuleExecution)
            .where(RuleExecution.id == record_id)
            .values(
                action_results=action_results,
                finished_at=utcnow(),
                status="failed" if failed else "succeeded",
                error=next((a["error"] for a in action_results if "error" in a), None),
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return True


async def process_event(database: Database, settings: Settings, send: Sender, event_id: str) -> int:
    """Run the rules and event-triggered workflows an event matches. Idempotent:
    an event is processed once, and a rule already recorded for it is not re-run.
    Returns how many rules matched."""
    async with database.session() as session:
        event = await session.get(Event, event_id)
        if event is None or event.status == "processed":
            return 0
        rules = (
            (
                await session.execute(
                    select(AutomationRule)
                    .where(
                        AutomationRule.tenant_id == event.tenant_id,
                        AutomationRule.enabled.is_(True),
                    )
                    .order_by(AutomationRule.priority.desc(), AutomationRule.created_at)
                )
            )
            .scalars()
            .all()
        )
        done = set(
            (
                await session.execute(
                    select(RuleExecution.rule_id).where(RuleExecution.event_id == event.id)
                )
            ).scalars()
        )
        workflows = (
            (
                await session.execute(
                    select(Workflow).where(
                        Workflow.tenant_id == event.tenant_id,
                        Workflow.trigger_type == "event",
                        Workflow.enabled.is_(True),
                    )
                )
            )
            .scalars()
            .all()
        )
    matched = 0
    for rule in rules:
        if not rule_listens(rule.trigger, event.type):
            continue
        if rule.id in done:
            continue
        if await _run_rule(database, settings, send, rule, event):
            matched += 1
            if rule.stop_after_match:
                break
    for workflow in workflows:
        if workflow_listens(workflow.event_type, event.type):
            async with database.session() as session:
                execution = await create_execution(
                    session,
                    workflow,
                    input_data=event.data if isinstance(event.data, dict) else {},
                    context={"event": {"id": event.id, "type": event.type}},
                    trigger="event",
                    request_id=event.request_id,
                )
                await session.commit()
            dispatch(send, execution.id)
    async with database.session() as session:
        await session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(status="processed", processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return matched


async def run_scheduled_rule(
    database: Database, settings: Settings, send: Sender, rule_id: str, scheduled_at: datetime
) -> None:
    async with database.session() as session:
        rule = await session.get(AutomationRule, rule_id)
        if rule is None:
            return
        event = Event(
            tenant_id=rule.tenant_id,
            type="schedule",
            source="scheduler",
            data={"rule_id": rule.id, "scheduled_at": scheduled_at.isoformat()},
            status="processed",
            processed_at=utcnow(),
        )
        session.add(event)
        await session.commit()
    await _run_rule(database, settings, send, rule, event)
