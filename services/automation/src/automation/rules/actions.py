"""The ``run_workflow`` action (alias ``workflow``): start a workflow of the same tenant."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from automation.models import Workflow
from automation.registry import ActionContext, ActionError, ActionType
from automation.workflows.engine import create_execution, dispatch


def _check(config: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(config.get("workflow_id"), str) or not config["workflow_id"]:
        problems.append("workflow_id: required (the id of a workflow of this tenant)")
    if not isinstance(config.get("input", {}), dict):
        problems.append("input: must be an object")
    if config.get("priority", "normal") not in ("low", "normal", "high", "critical"):
        problems.append("priority: one of low, normal, high, critical")
    return problems


async def run_workflow(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    async with ctx.database.session() as session:
        workflow = (
            await session.execute(
                select(Workflow).where(
                    Workflow.id == config["workflow_id"], Workflow.tenant_id == ctx.tenant_id
                )
            )
        ).scalar_one_or_none()
        if workflow is None:
            raise ActionError(f"workflow {config['workflow_id']} not found")
        if not workflow.enabled:
            raise ActionError(f"workflow {workflow.id} is disabled")
        input_data = config.get("input")
        if input_data is None:
            input_data = dict(ctx.scope.get("data") or ctx.scope.get("input") or {})
        execution = await create_execution(
            session,
            workflow,
            input_data=input_data,
            context={"started_by": {"source": ctx.source, "run_id": ctx.run_id}},
            priority=config.get("priority", "normal"),
            trigger=ctx.source,
            request_id=ctx.request_id,
        )
        await session.commit()
    if ctx.send is None:
        raise ActionError("no task sender available to start the workflow")
    dispatch(ctx.send, execution.id, execution.priority)
    return {"execution_id": execution.id, "workflow_id": workflow.id}


RUN_WORKFLOW = ActionType(
    "run_workflow", run_workflow, _check, "Start a workflow with the event's data"
)
WORKFLOW = replace(RUN_WORKFLOW, name="workflow", description="Alias of run_workflow")

# The rule actions, registered through the entry point group
# ``automation.action_types`` (services/automation/pyproject.toml).
RULE_ACTION_TYPES = [RUN_WORKFLOW, WORKFLOW]
