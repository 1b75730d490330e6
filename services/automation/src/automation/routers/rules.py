"""``/api/v1/automation/rules``: rules and their recorded executions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import RulesRead, RulesWrite
from automation.db import utcnow
from automation.models import AutomationRule, RuleExecution
from automation.problems import InvalidDefinition
from automation.routers.common import get_owned, session_dependency
from automation.rules.engine import action_problems, condition_problems
from automation.rules.schemas import (
    RuleCreate,
    RuleExecutionList,
    RuleExecutionOut,
    RuleList,
    RuleOut,
    RuleUpdate,
)
from automation.schedule import cron_problems, next_fire

router = APIRouter(prefix="/automation/rules", tags=["automation rules"])

Session = Annotated[AsyncSession, Depends(session_dependency)]


def rule_out(rule: AutomationRule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        name=rule.name,
        description=rule.description,
        enabled=rule.enabled,
        priority=rule.priority,
        trigger=rule.trigger,
        conditions=rule.conditions,
        condition_logic=rule.condition_logic,
        actions=rule.actions,
        stop_after_match=rule.stop_after_match,
        next_run_at=rule.next_run_at,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _validate(body: RuleCreate) -> None:
    problems = condition_problems(body.conditions) + action_problems(body.actions)
    if body.trigger.type == "schedule":
        problems = cron_problems(body.trigger.cron, body.trigger.timezone, "trigger") + problems
    if problems:
        raise InvalidDefinition("rule", problems)


def _schedule(rule: AutomationRule) -> None:
    trigger = rule.trigger
    rule.next_run_at = None
    if trigger.get("type") == "schedule" and rule.enabled:
        rule.next_run_at = next_fire(trigger["cron"], utcnow(), trigger.get("timezone"))


@router.get("", response_model=RuleList)
async def list_rules(
    session: Session,
    principal: RulesRead,
    enabled: bool | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> RuleList:
    where: list[Any] = [AutomationRule.tenant_id == principal.tenant_id]
    if enabled is not None:
        where.append(AutomationRule.enabled.is_(enabled))
    total = (await session.execute(select(func.count()).where(*where))).scalar_one()
    rows = await session.execute(
        select(AutomationRule)
        .where(*where)
        .order_by(AutomationRule.priority.desc(), AutomationRule.created_at, AutomationRule.id)
        .limit(limit)
        .offset(offset)
    )
    return RuleList(
        items=[rule_out(r) for r in rows.scalars()], total=total, limit=limit, offset=offset
    )


@router.post("", response_model=RuleOut, status_code=201)
async def create_rule(body: RuleCreate, session: Session, principal: RulesWrite) -> RuleOut:
    _validate(body)
    data = body.model_dump(mode="json")
    rule = AutomationRule(tenant_id=principal.tenant_id, **data)
    _schedule(rule)
    session.add(rule)
    await session.commit()
    return rule_out(rule)


@router.get("/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: str, session: Session, principal: RulesRead) -> RuleOut:
    return rule_out(await get_owned(session, AutomationRule, rule_id, principal.tenant_id, "rule"))


@router.patch("/{rule_id}", response_model=RuleOut)
async def update_rule(
    rule_id: str, body: RuleUpdate, session: Session, principal: RulesWrite
) -> RuleOut:
    rule = await get_owned(session, AutomationRule, rule_id, principal.tenant_id, "rule")
    merged = {
        **rule_out(rule).model_dump(mode="json"),
        **body.model_dump(mode="json", exclude_unset=True, exclude_none=True),
    }
    candidate = RuleCreate.model_validate(
        {k: merged[k] for k in RuleCreate.model_fields if k in merged}
    )
    _validate(candidate)
    for key, value in candidate.model_dump(mode="json").items():
        setattr(rule, key, value)
    _schedule(rule)
    await session.commit()
    return rule_out(rule)


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: str, session: Session, principal: RulesWrite) -> Response:
    await get_owned(session, AutomationRule, rule_id, principal.tenant_id, "rule")
    await session.execute(
        delete(AutomationRule).where(
            AutomationRule.id == rule_id, AutomationRule.tenant_id == principal.tenant_id
        )
    )
    await session.commit()
    return Response(status_code=204)


def rule_execution_out(row: RuleExecution) -> RuleExecutionOut:
    return RuleExecutionOut(
        id=row.id,
        rule_id=row.rule_id,
        event_id=row.event_id,
        matched=row.matched,
        status=row.status,
        condition_results=row.condition_results,
        action_results=row.action_results,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


@router.get("/{rule_id}/executions", response_model=RuleExecutionList)
async def list_rule_executions(
    rule_id: str,
    session: Session,
    principal: RulesRead,
    matched: bool | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> RuleExecutionList:
    await get_owned(session, AutomationRule, rule_id, principal.tenant_id, "rule")
    where: list[Any] = [
        RuleExecution.tenant_id == principal.tenant_id,
        RuleExecution.rule_id == rule_id,
    ]
    if matched is not None:
        where.append(RuleExecution.matched.is_(matched))
    total = (await session.execute(select(func.count()).where(*where))).scalar_one()
    rows = await session.execute(
        select(RuleExecution)
        .where(*where)
        .order_by(RuleExecution.created_at.desc(), RuleExecution.id)
        .limit(limit)
        .offset(offset)
    )
    return RuleExecutionList(
        items=[rule_execution_out(r) for r in rows.scalars()],
        total=total,
        limit=limit,
        offset=offset,
    )
