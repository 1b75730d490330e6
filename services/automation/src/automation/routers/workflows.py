"""``/api/v1/workflows``: definitions, runs and their history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import WorkflowsRead, WorkflowsWrite
from automation.db import utcnow
from automation.models import Workflow
from automation.problems import InvalidDefinition
from automation.routers.common import get_owned, session_dependency
from automation.schedule import next_fire
from automation.workflows import tokens
from automation.workflows.definition import workflow_problems
from automation.workflows.schemas import (
    StepSpec,
    WorkflowCreate,
    WorkflowList,
    WorkflowOut,
    WorkflowUpdate,
)

router = APIRouter(prefix="/workflows", tags=["workflows"])

Session = Annotated[AsyncSession, Depends(session_dependency)]


def workflow_out(workflow: Workflow, request: Request, token: str | None = None) -> WorkflowOut:
    """The workflow as answered. ``token`` is given only by the request that issued it
    (create, an update that made it webhook-triggered, a rotation): only then does
    ``webhook_url`` carry it; every other answer has the ``***`` hint."""
    webhook_url = webhook_url_hint = None
    if workflow.trigger_type == "webhook" and workflow.webhook_token_hash:
        webhook_url_hint = str(
            request.url_for("workflow_webhook", workflow_id=workflow.id, token=tokens.HIDDEN)
        )
        if token is not None:
            webhook_url = str(
                request.url_for("workflow_webhook", workflow_id=workflow.id, token=token)
            )
    return WorkflowOut(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        trigger_type=workflow.trigger_type,
        trigger_config=workflow.trigger_config,
        steps=workflow.steps,
        enabled=workflow.enabled,
        version=workflow.version,
        webhook_url=webhook_url,
        webhook_url_hint=webhook_url_hint,
        next_run_at=workflow.next_run_at,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
    )


def _issue_token(workflow: Workflow) -> str:
    """A new webhook token for ``workflow``: its hash is stored, the token returned
    to be shown once."""
    token = tokens.new_token()
    workflow.webhook_token_hash = tokens.token_hash(token)
    return token


def _apply_trigger(workflow: Workflow) -> str | None:
    """Derived columns of the trigger: the cron's next run, the webhook token, the event.
    Returns the webhook token when one was issued now."""
    config = workflow.trigger_config
    workflow.next_run_at = None
    workflow.event_type = None
    issued = None
    if workflow.trigger_type == "schedule" and workflow.enabled:
        workflow.next_run_at = next_fire(config["cron"], utcnow(), config.get("timezone"))
    if workflow.trigger_type == "webhook" and not workflow.webhook_token_hash:
        issued = _issue_token(workflow)
    if workflow.trigger_type == "event":
        workflow.event_type = str(config["event_type"]).strip()
    return issued


def _validate(trigger_type: str, trigger_config: dict[str, Any], steps: list[StepSpec]) -> None:
    problems = workflow_problems(trigger_type, trigger_config, steps)
    if problems:
        raise InvalidDefinition("workflow definition", problems)


@router.get("", response_model=WorkflowList)
async def list_workflows(
    request: Request,
    session: Session,
    principal: WorkflowsRead,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> WorkflowList:
    where = Workflow.tenant_id == principal.tenant_id
    total = (await session.execute(select(func.count()).where(where))).scalar_one()
    rows = await session.execute(
        select(Workflow)
        .where(where)
        .order_by(Workflow.created_at.desc(), Workflow.id)
        .limit(limit)
        .offset(offset)
    )
    items = [workflow_out(w, request) for w in rows.scalars()]
    return WorkflowList(items=items, total=total, limit=limit, offset=offset)


@router.post("", response_model=WorkflowOut, status_code=201)
async def create_workflow(
    body: WorkflowCreate,
    request: Request,
    session: Session,
    principal: WorkflowsWrite,
) -> WorkflowOut:
    _validate(body.trigger_type, body.trigger_config, body.steps)
    workflow = Workflow(
        tenant_id=principal.tenant_id,
        name=body.name,
        description=body.description,
        trigger_type=body.trigger_type,
        trigger_config=body.trigger_config,
        steps=[s.model_dump(mode="json") for s in body.steps],
        enabled=body.enabled,
    )
    token = _apply_trigger(workflow)
    session.add(workflow)
    await session.commit()
    return workflow_out(workflow, request, token)


@router.get("/{workflow_id}", response_model=WorkflowOut)
async def get_workflow(
    workflow_id: str,
    request: Request,
    session: Session,
    principal: WorkflowsRead,
) -> WorkflowOut:
    workflow = await get_owned(session, Workflow, workflow_id, principal.tenant_id, "workflow")
    return workflow_out(workflow, request)


@router.patch("/{workflow_id}", response_model=WorkflowOut)
async def update_workflow(
    workflow_id: str,
    body: WorkflowUpdate,
    request: Request,
    session: Session,
    principal: WorkflowsWrite,
) -> WorkflowOut:
    workflow = await get_owned(session, Workflow, workflow_id, principal.tenant_id, "workflow")
    changes = body.model_dump(exclude_unset=True)
    trigger_type = changes.get("trigger_type") or workflow.trigger_type
    trigger_config = changes.get("trigger_config")
    if trigger_config is None:
        trigger_config = workflow.trigger_config
    steps = body.steps if body.steps is not None else [StepSpec(**s) for s in workflow.steps]
    _validate(trigger_type, trigger_config, steps)
    for key in ("name", "description", "enabled"):
        if changes.get(key) is not None:
            setattr(workflow, key, changes[key])
    workflow.trigger_type = trigger_type
    workflow.trigger_config = trigger_config
    workflow.steps = [s.model_dump(mode="json") for s in steps]
    workflow.version += 1
    token = _apply_trigger(workflow)
    await session.commit()
    return workflow_out(workflow, request, token)


@router.post("/{workflow_id}/webhook-token", response_model=WorkflowOut)
async def rotate_webhook_token(
    workflow_id: str,
    request: Request,
    session: Session,
    principal: WorkflowsWrite,
) -> WorkflowOut:
    """Issue a new webhook URL; the old one stops working at once. The answer's
    ``webhook_url`` is the only place the new token is ever shown."""
    workflow = await get_owned(session, Workflow, workflow_id, principal.tenant_id, "workflow")
    if workflow.trigger_type != "webhook":
        raise HTTPException(
            409,
            detail=f"trigger_type: the workflow is {workflow.trigger_type!r}-triggered; "
            "only 'webhook' workflows have a webhook token",
        )
    token = _issue_token(workflow)
    await session.commit()
    return workflow_out(workflow, request, token)


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(
    workflow_id: str,
    session: Session,
    principal: WorkflowsWrite,
) -> Response:
    await get_owned(session, Workflow, workflow_id, principal.tenant_id, "workflow")
    await session.execute(
        delete(Workflow).where(
            Workflow.id == workflow_id, Workflow.tenant_id == principal.tenant_id
        )
    )
    await session.commit()
    return Response(status_code=204)
