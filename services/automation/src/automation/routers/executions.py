"""Running workflows: execute, history, cancel, re-run, and the inbound webhook trigger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import WorkflowsExecute, WorkflowsRead
from automation.models import StepRun, Workflow, WorkflowExecution
from automation.routers.common import (
    Since,
    get_owned,
    runtime_of,
    session_dependency,
    since_or_default,
)
from automation.workflows import engine, tokens
from automation.workflows.schemas import (
    ExecuteRequest,
    ExecutionList,
    ExecutionOut,
    ExecutionSummary,
    FailedExecution,
    StepRunOut,
)

router = APIRouter(prefix="/workflows", tags=["workflow executions"])
hooks = APIRouter(prefix="/hooks", tags=["workflow triggers"])
summary = APIRouter(prefix="/executions", tags=["workflow executions"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
MAX_HOOK_BODY = 1_000_000


def step_out(run: StepRun) -> StepRunOut:
    duration = None
    if run.started_at and run.finished_at:
        duration = round((run.finished_at - run.started_at).total_seconds() * 1000, 3)
    return StepRunOut(
        step_id=run.step_id,
        type=run.type,
        status=run.status,
        input=run.input,
        output=run.output,
        error=run.error,
        attempts=run.attempts,
        next_attempt_at=run.next_attempt_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=duration,
    )


def execution_out(execution: WorkflowExecution, runs: list[StepRun] | None = None) -> ExecutionOut:
    return ExecutionOut(
        id=execution.id,
        workflow_id=execution.workflow_id,
        status=execution.status,
        priority=execution.priority,
        trigger=execution.trigger,
        input=execution.input,
        context=execution.context,
        error=execution.error,
        run_count=execution.run_count,
        resume_at=execution.resume_at,
        created_at=execution.created_at,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        steps=[step_out(r) for r in runs or []],
    )


async def _runs(session: AsyncSession, execution: WorkflowExecution) -> list[StepRun]:
    rows = await session.execute(
        select(StepRun)
        .where(StepRun.execution_id == execution.id, StepRun.tenant_id == execution.tenant_id)
        .order_by(StepRun.position)
    )
    return list(rows.scalars())


async def _start(
    request: Request, session: AsyncSession, workflow: Workflow, body: ExecuteRequest, trigger: str
) -> ExecutionOut:
    if not workflow.enabled:
        raise HTTPException(409, detail=f"workflow {workflow.id} is disabled")
    execution = await engine.create_execution(
        session,
        workflow,
        input_data=body.input_data,
        context=body.context,
        priority=body.priority,
        trigger=trigger,
        request_id=getattr(request.state, "request_id", None),
    )
    await session.commit()
    runtime = runtime_of(request)
    engine.dispatch(runtime.task_sender, execution.id, execution.priority)
    return execution_out(execution, await _runs(session, execution))


@router.post("/{workflow_id}/execute", response_model=ExecutionOut, status_code=202)
async def execute_workflow(
    workflow_id: str,
    request: Request,
    session: Session,
    principal: WorkflowsExecute,
    body: ExecuteRequest | None = None,
) -> ExecutionOut:
    workflow = await get_owned(session, Workflow, workflow_id, principal.tenant_id, "workflow")
    return await _start(request, session, workflow, body or ExecuteRequest(), "manual")


@router.get("/{workflow_id}/executions", response_model=ExecutionList)
async def list_executions(
    workflow_id: str,
    session: Session,
    principal: WorkflowsRead,
    status: str | None = Query(default=None, max_length=20),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> ExecutionList:
    await get_owned(session, Workflow, workflow_id, principal.tenant_id, "workflow")
    where: list[Any] = [
        WorkflowExecution.tenant_id == principal.tenant_id,
        WorkflowExecution.workflow_id == workflow_id,
    ]
    if status:
        where.append(WorkflowExecution.status == status)
    total = (await session.execute(select(func.count()).where(*where))).scalar_one()
    rows = await session.execute(
        select(WorkflowExecution)
        .where(*where)
        .order_by(WorkflowExecution.created_at.desc(), WorkflowExecution.id)
        .limit(limit)
        .offset(offset)
    )
    items = [execution_out(e) for e in rows.scalars()]
    return ExecutionList(items=items, total=total, limit=limit, offset=offset)


@router.get("/executions/{execution_id}", response_model=ExecutionOut)
async def get_execution(
    execution_id: str, session: Session, principal: WorkflowsRead
) -> ExecutionOut:
    execution = await get_owned(
        session, WorkflowExecution, execution_id, principal.tenant_id, "execution"
    )
    return execution_out(execution, await _runs(session, execution))


@router.post("/executions/{execution_id}/cancel", response_model=ExecutionOut)
async def cancel_execution(
    execution_id: str, session: Session, principal: WorkflowsExecute
) -> ExecutionOut:
    execution = await get_owned(
        session, WorkflowExecution, execution_id, principal.tenant_id, "execution"
    )
    if not await engine.cancel(session, execution):
        raise HTTPException(409, detail=f"execution {execution_id} is already {execution.status}")
    await session.refresh(execution)
    return execution_out(execution, await _runs(session, execution))


@router.post("/executions/{execution_id}/rerun", response_model=ExecutionOut, status_code=202)
async def rerun_execution(
    execution_id: str, request: Request, session: Session, principal: WorkflowsExecute
) -> ExecutionOut:
    execution = await get_owned(
        session, WorkflowExecution, execution_id, principal.tenant_id, "execution"
    )
    if execution.status not in ("failed", "cancelled"):
        raise HTTPException(
            409,
            detail=f"only a failed or cancelled execution can re-run (it is {execution.status})",
        )
    await engine.prepare_rerun(session, execution)
    engine.dispatch(runtime_of(request).task_sender, execution.id, execution.priority)
    return execution_out(execution, await _runs(session, execution))


@summary.get("/summary", response_model=ExecutionSummary)
async def execution_summary(
    session: Session, principal: WorkflowsRead, since: Since = None
) -> ExecutionSummary:
    """Executions by status over every workflow of the tenant: one aggregate over the
    (tenant_id, ...) index, plus the newest failures."""
    start = since_or_default(since)
    window = (
        WorkflowExecution.tenant_id == principal.tenant_id,
        WorkflowExecution.created_at >= start,
    )
    rows = await session.execute(
        select(WorkflowExecution.status, func.count())
        .where(*window)
        .group_by(WorkflowExecution.status)
    )
    by_status = {str(status): int(count) for status, count in rows.all()}
    failed = await session.execute(
        select(WorkflowExecution, Workflow.name)
        .join(Workflow, Workflow.id == WorkflowExecution.workflow_id)
        .where(*window, WorkflowExecution.status == "failed")
        .order_by(WorkflowExecution.created_at.desc(), WorkflowExecution.id)
        .limit(5)
    )
    failures = [
        FailedExecution(id=e.id, workflow_id=e.workflow_id, workflow_name=name,
                        error=e.error, created_at=e.created_at)
        for e, name in failed.all()
    ]  # fmt: skip
    return ExecutionSummary(
        since=start, total=sum(by_status.values()), by_status=by_status, latest_failures=failures
    )


@hooks.post(
    "/workflows/{workflow_id}/{token}",
    response_model=ExecutionOut,
    status_code=202,
    name="workflow_webhook",
)
async def workflow_webhook(
    workflow_id: str,
    token: str,
    request: Request,
    session: Session,
    payload: Annotated[dict[str, Any] | None, Body()] = None,
) -> ExecutionOut:
    """Start a webhook-triggered workflow. The URL's token is the secret; the JSON
    body becomes the execution's input."""
    workflow = await session.get(Workflow, workflow_id) if len(workflow_id) <= 36 else None
    # Only the token's hash is stored; compared in constant time, and even when the
    # workflow is unknown, so timing says nothing about which.
    valid = tokens.token_matches(token, workflow.webhook_token_hash if workflow else None)
    if workflow is None or workflow.trigger_type != "webhook" or not valid:
        raise HTTPException(404, detail="no such webhook")
    body = ExecuteRequest(
        input_data=payload or {},
        context={"webhook": {"content_type": request.headers.get("content-type")}},
    )
    return await _start(request, session, workflow, body, "webhook")
