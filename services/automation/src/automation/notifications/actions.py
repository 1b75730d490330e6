"""The ``notification`` step/action type: send an email or an SMS.

Config (as rules write it): ``notification_type`` (``email`` or ``sms``; also
accepted as ``channel``), ``to`` (one address or a list), and either
``template`` / ``template_id`` or inline ``subject`` / ``body`` / ``message``.
``template_data`` defaults to the data the step sees (the event for a rule),
so ``{{ user.email }}`` in a template reads the event's ``user.email``.

The engine renders the config (inline ``subject``/``body`` included) before the
handler runs; that text is sent as it is, never rendered a second time, so
template syntax arriving in an event's data stays text. A stored template is
rendered once, with ``template_data``.
"""

from __future__ import annotations

from typing import Any

from automation.celery_app import celery_app, send
from automation.notifications.delivery import (
    PRIORITIES,
    NotificationRequestError,
    SendRequest,
    accept,
)
from automation.notifications.sms import E164
from automation.notifications.tasks import TASK_SEND, queue_for_priority
from automation.notifications.templates import TemplateError
from automation.registry import ActionContext, ActionError, ActionType

_MAX_ATTEMPTS = 5


def _channel(config: dict[str, Any]) -> Any:
    return config.get("notification_type", config.get("channel", "email"))


def _recipients(config: dict[str, Any]) -> list[str]:
    to = config.get("to")
    if isinstance(to, str):
        return [to]
    return list(to) if isinstance(to, list) else []


def check_notification(config: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    channel = _channel(config)
    if channel not in ("email", "sms"):
        problems.append("config.notification_type: must be 'email' or 'sms'")
    to = _recipients(config)
    if not to or not all(isinstance(r, str) and r for r in to):
        problems.append("config.to: required (an address or a list of addresses)")
    template = config.get("template", config.get("template_id"))
    inline = config.get("body", config.get("message", config.get("html_body")))
    if template is None and inline is None:
        problems.append("config.template: give a template (or template_id), or a body/message")
    if config.get("priority", "normal") not in PRIORITIES:
        problems.append(f"config.priority: one of {', '.join(PRIORITIES)}")
    if "template_data" in config and not isinstance(config["template_data"], dict):
        problems.append("config.template_data: must be an object")
    return problems


async def send_notification(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    problems = check_notification(config)
    if problems:
        raise ActionError("; ".join(problems))
    channel = str(_channel(config))
    to = _recipients(config)
    if channel == "sms" and not all(E164.match(r) for r in to):
        raise ActionError("config.to: SMS recipients must be E.164 phone numbers")
    if channel == "email" and not all("@" in r for r in to):
        raise ActionError("config.to: email recipients must be email addresses")
    data = {k: v for k, v in ctx.scope.items()}
    data.update(config.get("template_data") or {})
    request = SendRequest(
        channel=channel, to=to, subject=config.get("subject"),
        body=config.get("body", config.get("message")), html_body=config.get("html_body"),
        template=config.get("template", config.get("template_id")), template_data=data,
        priority=str(config.get("priority", "normal")), idempotency_key=ctx.idempotency_key,
        request_id=ctx.request_id, literal=True,
    )  # fmt: skip
    async with ctx.database.session() as session:
        try:
            rows, created = await accept(
                session, ctx.tenant_id, request, max_attempts=_MAX_ATTEMPTS
            )
        except (NotificationRequestError, TemplateError) as exc:
            raise ActionError(str(exc)) from None
    if created:
        queue = queue_for_priority(request.priority)
        send(celery_app, TASK_SEND, [r.id for r in rows], queue=queue)
    return {"notification_ids": [r.id for r in rows], "channel": channel}


NOTIFICATION_ACTION = ActionType(
    name="notification",
    run=send_notification,
    validate=check_notification,
    description="Send an email or SMS, from a stored template or inline text",
)
