"""Webhooks (endpoints, messages, deliveries with attempts, Resend) and Notifications."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mimeia_console.clients import sinks
from mimeia_console.clients.http import ServiceError
from mimeia_console.pages.sinks import PREVIEW_CSP, sanitize
from mimeia_console.web import automation, back, checked_form, console, int_param, pager, render

PAGE = 25
ATTEMPTS_PAGE = 50  # the automation API gives at most 200 a call
DELIVERY_STATUSES = ("", "pending", "succeeded", "failed")
NOTIFICATION_STATUSES = ("", "queued", "sent", "failed", "retrying")


async def webhooks(request: Request) -> Response:
    api = automation(request)
    offset = int_param(request, "offset", 0)
    endpoint_offset = int_param(request, "endpoints_offset", 0)
    event_type = request.query_params.get("event_type", "").strip()[:200]
    endpoints = await api.get("/webhooks/endpoints", limit=PAGE, offset=endpoint_offset)
    messages = await api.get(
        "/webhooks/messages", event_type=event_type or None, limit=PAGE, offset=offset
    )
    return render(
        request,
        "webhooks.html",
        endpoints=endpoints,
        messages=messages,
        event_type=event_type,
        endpoints_pager=pager(
            request, endpoint_offset, PAGE, len(endpoints), None, param="endpoints_offset"
        ),
        pager=pager(request, offset, PAGE, len(messages), None),
    )


async def endpoint_detail(request: Request) -> Response:
    api = automation(request)
    eid = request.path_params["endpoint_id"]
    status = request.query_params.get("status", "")
    if status not in DELIVERY_STATUSES:
        raise HTTPException(400, f"status: one of {', '.join(s for s in DELIVERY_STATUSES if s)}")
    offset = int_param(request, "offset", 0)
    endpoint = await api.get(f"/webhooks/endpoints/{eid}")
    deliveries = await api.get(
        f"/webhooks/endpoints/{eid}/messages", status=status or None, limit=PAGE, offset=offset
    )
    attempts = await api.get(f"/webhooks/endpoints/{eid}/attempts", limit=PAGE)
    return render(
        request,
        "endpoint.html",
        endpoint=endpoint,
        deliveries=deliveries,
        attempts=attempts,
        status=status,
        statuses=DELIVERY_STATUSES,
        pager=pager(request, offset, PAGE, len(deliveries), None),
    )


async def message_detail(request: Request) -> Response:
    api = automation(request)
    mid = request.path_params["message_id"]
    offset = int_param(request, "attempts_offset", 0)
    message = await api.get(f"/webhooks/messages/{mid}")
    attempts = await api.get(
        f"/webhooks/messages/{mid}/attempts", limit=ATTEMPTS_PAGE, offset=offset
    )
    by_delivery: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_delivery.setdefault(str(attempt.get("delivery_id")), []).append(attempt)
    deliveries = message.get("deliveries", [])
    in_progress = any(d.get("status") == "pending" for d in deliveries)
    # each delivery counts its own attempts: their sum is how many there are in all
    # (when a full page says there are more than that, the pager trusts the page)
    counted = sum(int(d.get("attempts") or 0) for d in deliveries)
    seen = offset + len(attempts)
    total = counted if counted > seen or len(attempts) < ATTEMPTS_PAGE else None
    return render(
        request,
        "message.html",
        message=message,
        by_delivery=by_delivery,
        in_progress=in_progress,
        attempts_pager=pager(
            request, offset, ATTEMPTS_PAGE, len(attempts), total, param="attempts_offset"
        ),
    )


async def resend(request: Request) -> Response:
    await checked_form(request)
    eid, mid = request.path_params["endpoint_id"], request.path_params["message_id"]
    try:
        result = await automation(request).post(f"/webhooks/endpoints/{eid}/messages/{mid}/replay")
    except ServiceError as exc:
        return back(f"/webhooks/messages/{mid}", error=f"resend refused: {exc.detail}")
    return back(f"/webhooks/messages/{mid}", ok=f"Resent ({result.get('replayed', 0)} delivery)")


async def notifications(request: Request) -> Response:
    status = request.query_params.get("status", "")
    channel = request.query_params.get("channel", "")
    if status not in NOTIFICATION_STATUSES:
        raise HTTPException(400, "status: not a notification status")
    if channel not in ("", "email", "sms"):
        raise HTTPException(400, "channel: email, sms or empty")
    offset = int_param(request, "offset", 0)
    items = await automation(request).get(
        "/notifications", status=status or None, channel=channel or None, limit=PAGE, offset=offset
    )
    return render(
        request,
        "notifications.html",
        items=items,
        status=status,
        channel=channel,
        statuses=NOTIFICATION_STATUSES,
        pager=pager(request, offset, PAGE, len(items), None),
    )


async def notification_detail(request: Request) -> Response:
    c = console(request)
    api = automation(request)
    note = await api.get(f"/notifications/{request.path_params['notification_id']}")
    # what was sent: the message as automation rendered and stored it when it was
    # accepted (its detail carries body/html_body); a dev sink's copy is linked too
    rendered = "body" in note or "html_body" in note
    mail_id: int | None = None
    sms_body: str | None = None
    template_preview: dict[str, Any] | None = None
    provider_id = note.get("provider_message_id")
    try:
        if note.get("channel") == "email" and provider_id:
            found = await sinks.mail_by_message_id(c.http, c.settings.smtp_sink_url, provider_id)
            mail_id = int(found["id"]) if found else None
        elif note.get("channel") == "sms" and provider_id and not rendered:
            sms = await sinks.sms_message(c.http, c.settings.sms_sink_url, str(provider_id))
            sms_body = str(sms.get("body", ""))
    except ServiceError:
        pass  # no sink (a deployed platform)
    if not rendered and mail_id is None and sms_body is None and note.get("template_id"):
        # an automation that does not return the rendered message: the template's own
        try:
            template_preview = await api.post(
                f"/notifications/templates/{note['template_id']}/preview", {"template_data": {}}
            )
        except ServiceError:
            template_preview = None
    return render(
        request,
        "notification.html",
        note=note,
        rendered=rendered,
        mail_id=mail_id,
        sms_body=sms_body,
        template_preview=template_preview,
    )


async def notification_preview(request: Request) -> Response:
    """The sent HTML body, sanitized, as its own document for the page's sandboxed frame."""
    note = await automation(request).get(f"/notifications/{request.path_params['notification_id']}")
    html = note.get("html_body")
    body = sanitize(str(html)) if html else "<p><em>(no HTML part)</em></p>"
    document = f'<!doctype html><meta charset="utf-8"><base target="_blank">{body}'
    return HTMLResponse(document, headers={"Content-Security-Policy": PREVIEW_CSP})


ROUTES = [
    Route("/webhooks", webhooks, methods=["GET"]),
    Route("/webhooks/endpoints/{endpoint_id}", endpoint_detail, methods=["GET"]),
    Route("/webhooks/messages/{message_id}", message_detail, methods=["GET"]),
    Route(
        "/webhooks/endpoints/{endpoint_id}/messages/{message_id}/resend", resend, methods=["POST"]
    ),
    Route("/notifications", notifications, methods=["GET"]),
    Route("/notifications/{notification_id}", notification_detail, methods=["GET"]),
    Route("/notifications/{notification_id}/preview", notification_preview, methods=["GET"]),
]
