"""Workflows (list, graph, executions) and one execution (timeline, steps, Rerun, Cancel)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console import svg
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import automation, back, checked_form, int_param, pager, render

PAGE = 25
EXECUTION_STATUSES = ("", "pending", "running", "waiting", "succeeded", "failed", "cancelled")


async def workflow_list(request: Request) -> Response:
    offset = int_param(request, "offset", 0)
    page = await automation(request).workflows(PAGE, offset)
    items = page.get("items", [])
    return render(
        request,
        "workflows.html",
        workflows=items,
        pager=pager(request, offset, PAGE, len(items), page.get("total")),
    )


async def workflow_detail(request: Request) -> Response:
    api = automation(request)
    wid = request.path_params["workflow_id"]
    status = request.query_params.get("status", "")
    if status not in EXECUTION_STATUSES:
        status = ""
    offset = int_param(request, "offset", 0)
    workflow = await api.get(f"/workflows/{wid}")
    page = await api.executions(wid, status or None, PAGE, offset)
    items = page.get("items", [])
    graph = svg.workflow_graph(svg.nodes_from_steps(workflow.get("steps", []), {}))
    return render(
        request,
        "workflow.html",
        workflow=workflow,
        executions=items,
        graph=graph,
        statuses=EXECUTION_STATUSES,
        status=status,
        pager=pager(request, offset, PAGE, len(items), page.get("total")),
    )


def failed_step(execution: dict[str, Any]) -> dict[str, Any] | None:
    for step in execution.get("steps", []):
        if step.get("status") == "failed":
            return dict(step)
    return None


async def execution_detail(request: Request) -> Response:
    api = automation(request)
    execution = await api.execution(request.path_params["execution_id"])
    workflow: dict[str, Any] = {}
    try:
        workflow = await api.get(f"/workflows/{execution['workflow_id']}")
    except ServiceError:
        workflow = {
            "id": execution.get("workflow_id"),
            "name": execution.get("workflow_id"),
            "steps": [],
        }
    steps = execution.get("steps", [])
    statuses = {str(s.get("step_id")): str(s.get("status")) for s in steps}
    graph = svg.workflow_graph(svg.nodes_from_steps(workflow.get("steps", []), statuses))
    started_by = (execution.get("context") or {}).get("started_by") or {}
    return render(
        request,
        "execution.html",
        execution=execution,
        workflow=workflow,
        failed=failed_step(execution),
        timeline=svg.timeline(steps, resume_at=execution.get("resume_at")),
        graph=graph,
        started_by=started_by,
        in_progress=execution.get("status") in ("pending", "running"),
    )


async def execution_action(request: Request) -> Response:
    await checked_form(request)
    eid = request.path_params["execution_id"]
    action = request.path_params["action"]
    if action not in ("rerun", "cancel"):
        return back(f"/executions/{eid}", error=f"action: {action!r} is not rerun or cancel")
    try:
        result = await automation(request).post(f"/workflows/executions/{eid}/{action}")
    except ServiceError as exc:
        return back(f"/executions/{eid}", error=f"{action} refused: {exc.detail}")
    if action == "rerun":
        new_id = str(result.get("id", eid))
        note = "Rerun started from the failed step" if new_id == eid else "Rerun started"
        return back(f"/executions/{new_id}", ok=note)
    return back(f"/executions/{eid}", ok="Cancelled")


async def run_workflow(request: Request) -> Response:
    await checked_form(request)
    wid = request.path_params["workflow_id"]
    try:
        result = await automation(request).post(f"/workflows/{wid}/execute", {"input_data": {}})
    except ServiceError as exc:
        return back(f"/workflows/{wid}", error=f"run refused: {exc.detail}")
    return back(f"/executions/{result['id']}", ok="Started")


ROUTES = [
    Route("/workflows", workflow_list, methods=["GET"]),
    Route("/workflows/{workflow_id}", workflow_detail, methods=["GET"]),
    Route("/workflows/{workflow_id}/run", run_workflow, methods=["POST"]),
    Route("/executions/{execution_id}", execution_detail, methods=["GET"]),
    Route("/executions/{execution_id}/{action}", execution_action, methods=["POST"]),
]
