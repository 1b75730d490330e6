"""First steps: one button sets up a sample, another sends an event through it, and the
page then links to everything that happened.

The sample, made through the automation API with the user's credentials: an email
template, a webhook endpoint pointing at the console's test receiver, a 3-step
workflow (check the order, publish it to FlowMesh, summarize) and a rule on
``order.created`` that sends the webhook and the email and starts the workflow.
Each part is found by its name, so pressing Set up twice changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.clients import sinks
from mimeia_console.clients.automation import Automation
from mimeia_console.clients.http import ServiceError
from mimeia_console.web import automation, back, checked_form, console, render, tenant

TEMPLATE = "console-sample-order"
ENDPOINT = "console test receiver"
WORKFLOW = "Console sample: order pipeline"
RULE = "Console sample: order.created"
EVENT_TYPE = "order.created"
STREAM = ("console", "orders")
SAMPLE_EMAIL = "ada@example.com"


def sample_steps() -> list[dict[str, Any]]:
    ns, name = STREAM
    return [
        {
            "id": "check_order",
            "type": "data_transform",
            "name": "Check the order",
            "config": {
                "require": ["order_id", "total"],
                "output": {"order_id": "{{ order_id }}", "total": "{{ total }}"},
            },
        },
        {
            "id": "publish",
            "type": "flowmesh_publish",
            "name": "Publish to FlowMesh",
            "config": {
                "kind": "stream",
                "namespace": ns,
                "name": name,
                "payload": {
                    "order_id": "{{ steps.check_order.output.order_id }}",
                    "total": "{{ steps.check_order.output.total }}",
                },
                "headers": {"source": "console-sample"},
            },
        },
        {
            "id": "summarize",
            "type": "data_transform",
            "name": "Summarize",
            "config": {"output": "order {{ order_id }} published"},
        },
    ]


async def _by_name(api: Automation, path: str, name: str) -> dict[str, Any] | None:
    listed = await api.get(path, limit=100)
    items = listed.get("items", []) if isinstance(listed, dict) else listed
    return next((i for i in items if i.get("name") == name), None)


async def find_sample(api: Automation) -> dict[str, dict[str, Any] | None]:
    return {
        "template": await _by_name(api, "/notifications/templates", TEMPLATE),
        "endpoint": await _by_name(api, "/webhooks/endpoints", ENDPOINT),
        "workflow": await _by_name(api, "/workflows", WORKFLOW),
        "rule": await _by_name(api, "/automation/rules", RULE),
    }


async def set_up_sample(api: Automation, receiver_url: str) -> dict[str, dict[str, Any]]:
    found = await find_sample(api)
    template = found["template"] or await api.post(
        "/notifications/templates",
        {
            "name": TEMPLATE,
            "channel": "email",
            "subject": "Order {{ order_id }} received",
            "body": "Hello {{ customer.name }},\n\nwe received order {{ order_id }} "
            "({{ total }} EUR).\n",
            "html_body": "<h1>Order {{ order_id }}</h1><p>Hello {{ customer.name }}, we received "
            "your order of <b>{{ total }} EUR</b>.</p>",
        },
    )
    endpoint = found["endpoint"] or await api.post(
        "/webhooks/endpoints",
        {
            "url": receiver_url,
            "name": ENDPOINT,
            "events": [EVENT_TYPE],
            "description": "the console's built-in test receiver",
        },
    )
    workflow = found["workflow"] or await api.post(
        "/workflows",
        {
            "name": WORKFLOW,
            "description": "check an order, publish it to FlowMesh, summarize",
            "trigger_type": "manual",
            "steps": sample_steps(),
        },
    )
    rule = found["rule"] or await api.post(
        "/automation/rules",
        {
            "name": RULE,
            "description": "webhook + email + workflow for each paid order",
            "priority": 10,
            "trigger": {"type": "event", "event_type": EVENT_TYPE},
            "conditions": [{"field": "total", "operator": "greater_than", "value": 0}],
            "actions": [
                {"type": "webhook", "event_type": EVENT_TYPE},
                {
                    "type": "notification",
                    "notification_type": "email",
                    "to": "{{ customer.email }}",
                    "template": TEMPLATE,
                },
                {"type": "run_workflow", "workflow_id": workflow["id"]},
            ],
        },
    )
    return {"template": template, "endpoint": endpoint, "workflow": workflow, "rule": rule}


def sample_event() -> dict[str, Any]:
    order = f"A-{secrets.randbelow(900000) + 100000}"
    return {
        "event_type": EVENT_TYPE,
        "source": "console",
        "data": {
            "order_id": order,
            "total": 42.5,
            "customer": {"name": "Ada", "email": SAMPLE_EMAIL},
            "items": [{"sku": "tea-01", "qty": 2}],
        },
    }


async def what_happened(request: Request, api: Automation, event_id: str) -> dict[str, Any]:
    """Everything the sample event caused, with links (as far as it has got)."""
    c = console(request)
    event = await api.get(f"/events/{event_id}")
    out: dict[str, Any] = {
        "event": event,
        "runs": event.get("rule_executions", []),
        "execution": None,
        "message": None,
        "notification": None,
        "mail_id": None,
        "received": [],
        "stream_offset": None,
    }
    for run in out["runs"]:
        for action in run.get("action_results", []):
            output = action.get("output") or {}
            if output.get("execution_id"):
                out["execution"] = await api.execution(output["execution_id"])
            if output.get("message_id"):
                out["message"] = await api.get(f"/webhooks/messages/{output['message_id']}")
            for nid in output.get("notification_ids", [])[:1]:
                out["notification"] = await api.get(f"/notifications/{nid}")
    note = out["notification"]
    if note and note.get("provider_message_id"):
        try:
            found = await sinks.mail_by_message_id(
                c.http, c.settings.smtp_sink_url, note["provider_message_id"]
            )
            if found:
                out["mail_id"] = found["id"]
        except ServiceError:
            pass
    execution = out["execution"]
    if execution:
        for step in execution.get("steps", []):
            offsets = (
                (step.get("output") or {}).get("offsets")
                if step.get("step_id") == ("publish")
                else None
            )
            if offsets:
                out["stream_offset"] = offsets[0]
    order = (event.get("data") or {}).get("order_id")
    out["received"] = [r for r in c.receiver.of(tenant(request)) if order and order in r.body][:3]
    message = out["message"]
    delivered = bool(message) and all(
        d.get("status") != "pending" for d in message.get("deliveries", [])
    )
    out["done"] = bool(
        event.get("status") == "processed"
        and (execution is None or execution.get("status") in ("succeeded", "failed", "cancelled"))
        and (message is None or delivered)
        and (note is None or note.get("status") in ("sent", "failed"))
    )
    return out


async def page(request: Request) -> Response:
    api = automation(request)
    sample = await find_sample(api)
    event_id = request.query_params.get("event", "")
    happened = await what_happened(request, api, event_id) if event_id else None
    return render(
        request,
        "first_steps.html",
        sample=sample,
        happened=happened,
        ready=all(sample.values()),
        stream=STREAM,
    )


async def setup(request: Request) -> Response:
    await checked_form(request)
    c = console(request)
    receiver = f"{c.settings.self_url()}/receiver/{tenant(request)}"
    try:
        await set_up_sample(automation(request), receiver)
    except ServiceError as exc:
        return back("/first-steps", error=f"set-up refused: {exc.detail}")
    return back("/first-steps", ok="The sample is set up. Now send a sample event.")


async def send(request: Request) -> Response:
    await checked_form(request)
    try:
        event = await automation(request).post("/events", sample_event())
    except ServiceError as exc:
        return back("/first-steps", error=f"sending refused: {exc.detail}")
    return back(f"/first-steps?event={event['id']}", ok="Sample event sent")


ROUTES = [
    Route("/first-steps", page, methods=["GET"]),
    Route("/first-steps/setup", setup, methods=["POST"]),
    Route("/first-steps/send", send, methods=["POST"]),
]
