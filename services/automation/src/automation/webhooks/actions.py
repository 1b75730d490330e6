"""The ``webhook`` step/action type: deliver an event to the tenant's endpoints.

Config: ``event_type`` (required), ``payload`` (an object; default: the data
the step sees), ``endpoint_ids`` (optional list). A re-run of the same step
reuses its idempotency key, so a retried step never sends the message twice.
"""

from __future__ import annotations

from typing import Any

from automation.celery_app import celery_app, send
from automation.registry import ActionContext, ActionError, ActionType
from automation.webhooks.delivery import create_message
from automation.webhooks.schemas import EVENT_TYPE
from automation.webhooks.tasks import TASK_DELIVER


def check_webhook(config: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    event_type = config.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        problems.append("config.event_type: required (a string)")
    elif "{{" not in event_type and not EVENT_TYPE.match(event_type):
        problems.append("config.event_type: letters, digits and . _ - : only")
    if "payload" in config and not isinstance(config["payload"], dict):
        problems.append("config.payload: must be an object")
    ids = config.get("endpoint_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        problems.append("config.endpoint_ids: must be a list of ids")
    return problems


async def deliver_webhook(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    problems = check_webhook(config)
    if problems:
        raise ActionError("; ".join(problems))
    payload = config.get("payload")
    if payload is None:
        payload = {k: v for k, v in ctx.scope.items() if k != "steps"}
    async with ctx.database.session() as session:
        new = await create_message(
            session, ctx.tenant_id, str(config["event_type"]), dict(payload),
            idempotency_key=ctx.idempotency_key, endpoint_ids=config.get("endpoint_ids"),
        )  # fmt: skip
    if new.created and new.delivery_ids:
        send(celery_app, TASK_DELIVER, new.message.id, queue="webhook")
    return {"message_id": new.message.id, "endpoints": len(new.delivery_ids)}


WEBHOOK_ACTION = ActionType(
    name="webhook",
    run=deliver_webhook,
    validate=check_webhook,
    description="Deliver a signed webhook (Standard Webhooks) to the matching endpoints",
)
