"""The notification API under ``/api/v1/notifications``: templates, email, SMS, status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import Principal, require
from automation.delivery.ratelimit import DeliveryLimiter, RateLimitExceeded, parse_limit
from automation.logs import request_id_var
from automation.notifications.config import NotificationSettings
from automation.notifications.delivery import (
    NotificationRequestError,
    SendRequest,
    accept,
    find_template,
)
from automation.notifications.models import Notification, NotificationTemplate
from automation.notifications.schemas import (
    EmailIn,
    NotificationDetail,
    NotificationOut,
    NotificationSummary,
    PreviewIn,
    PreviewOut,
    SendOut,
    SmsIn,
    TemplateIn,
    TemplateOut,
    TemplateUpdate,
)
from automation.notifications.smtp import Attachment
from automation.notifications.tasks import TASK_SEND, queue_for_priority
from automation.notifications.templates import TemplateError, default_renderer
from automation.routers.common import (
    Since,
    get_owned,
    runtime_of,
    session_dependency,
    since_or_default,
)

NotificationsRead = Annotated[Principal, Depends(require("notifications:read"))]
NotificationsWrite = Annotated[Principal, Depends(require("notifications:write"))]
NotificationsSend = Annotated[Principal, Depends(require("notifications:send"))]

router = APIRouter(prefix="/notifications", tags=["notifications"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class _Limits:
    def __init__(self, settings: NotificationSettings, storage_url: str, prefix: str) -> None:
        self.limiter = DeliveryLimiter(storage_url, prefix=f"{prefix}notification")
        self.channel = {
            "email": parse_limit(settings.notification_rate_limit_email,
                                 "NOTIFICATION_RATE_LIMIT_EMAIL"),
            "sms": parse_limit(settings.notification_rate_limit_sms, "NOTIFICATION_RATE_LIMIT_SMS"),
        }  # fmt: skip
        self.recipient = parse_limit(settings.notification_rate_limit_per_recipient,
                                     "NOTIFICATION_RATE_LIMIT_PER_RECIPIENT")  # fmt: skip


def _state(request: Request) -> tuple[NotificationSettings, _Limits]:
    state = request.app.state
    if getattr(state, "notification_settings", None) is None:
        state.notification_settings = NotificationSettings()
    if getattr(state, "notification_limits", None) is None:
        core = runtime_of(request).settings
        state.notification_limits = _Limits(
            state.notification_settings, core.effective_rate_limit_storage, core.celery_key_prefix
        )
    return state.notification_settings, state.notification_limits


def _problems(*items: tuple[str, str]) -> HTTPException:
    return HTTPException(422, detail={
        "detail": "validation failed",
        "problems": [{"field": f, "message": m} for f, m in items],
    })  # fmt: skip


def _checked_template(body: TemplateIn | TemplateUpdate) -> list[str]:
    """Parse every part; 422 listing each part that does not parse; the variables used."""
    problems: list[tuple[str, str]] = []
    variables: set[str] = set()
    for field in ("subject", "body", "html_body"):
        source = getattr(body, field)
        if source is None:
            continue
        try:
            variables |= default_renderer.check(source, field=field).variables
        except TemplateError as exc:
            problems.append((exc.field, exc.message))
    if problems:
        raise _problems(*problems)
    return sorted(variables)


def _template_out(t: NotificationTemplate) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "channel": t.channel, "subject": t.subject,
            "body": t.body, "html_body": t.html_body, "variables": t.variables,
            "created_at": t.created_at, "updated_at": t.updated_at}  # fmt: skip


async def _template(session: AsyncSession, tenant_id: str, id_or_name: str) -> NotificationTemplate:
    template = await find_template(session, tenant_id, id_or_name)
    if template is None:
        raise HTTPException(404, detail=f"template {id_or_name} not found")
    return template


@router.post("/templates", status_code=201, response_model=TemplateOut)
async def create_template(
    *, body: TemplateIn, session: Session, principal: NotificationsWrite
) -> dict[str, Any]:
    variables = _checked_template(body)
    if not body.body and not body.html_body:
        raise _problems(("body", "give a body or an html_body"))
    template = NotificationTemplate(
        tenant_id=principal.tenant_id, name=body.name, channel=body.channel,
        subject=body.subject, body=body.body, html_body=body.html_body, variables=variables,
    )  # fmt: skip
    session.add(template)
    try:
        await session.commit()
    except IntegrityError:
        raise HTTPException(409, detail=f"a template named {body.name!r} exists") from None
    return _template_out(template)


@router.get("/templates", response_model=list[TemplateOut])
async def list_templates(
    *,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    principal: NotificationsRead,
) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(NotificationTemplate)
        .where(NotificationTemplate.tenant_id == principal.tenant_id)
        .order_by(NotificationTemplate.name).limit(limit).offset(offset)
    )  # fmt: skip
    return [_template_out(t) for t in rows]


@router.get("/templates/{template_id}", response_model=TemplateOut)
async def get_template(
    *, template_id: str, session: Session, principal: NotificationsRead
) -> dict[str, Any]:
    return _template_out(await _template(session, principal.tenant_id, template_id))


@router.patch("/templates/{template_id}", response_model=TemplateOut)
async def update_template(
    *,
    template_id: str,
    body: TemplateUpdate,
    session: Session,
    principal: NotificationsWrite,
) -> dict[str, Any]:
    template = await _template(session, principal.tenant_id, template_id)
    _checked_template(body)
    for field in ("subject", "body", "html_body"):
        value = getattr(body, field)
        if value is not None:
            setattr(template, field, value)
    template.variables = sorted(
        default_renderer.check(template.subject).variables
        | default_renderer.check(template.body).variables
        | (default_renderer.check(template.html_body).variables if template.html_body else set())
    )
    await session.commit()
    return _template_out(template)


@router.delete("/templates/{template_id}", status_code=204)
async def delete_template(
    *, template_id: str, session: Session, principal: NotificationsWrite
) -> Response:
    await session.delete(await _template(session, principal.tenant_id, template_id))
    await session.commit()
    return Response(status_code=204)


@router.post("/templates/{template_id}/preview", response_model=PreviewOut)
async def preview_template(
    *,
    template_id: str,
    body: PreviewIn,
    session: Session,
    principal: NotificationsRead,
) -> dict[str, Any]:
    t = await _template(session, principal.tenant_id, template_id)
    try:
        subject, text, html = await default_renderer.render_fields_async(
            [("subject", t.subject, False), ("body", t.body, False),
             ("html_body", t.html_body or None, True)],
            body.template_data,
        )  # fmt: skip
        return {"subject": subject, "body": text, "html_body": html}
    except TemplateError as exc:
        raise _problems((exc.field, exc.message)) from None


async def _send(
    request: Request, session: AsyncSession, tenant_id: str, send_request: SendRequest
) -> JSONResponse:
    settings, limits = _state(request)
    if len(send_request.to) > settings.notification_max_recipients:
        raise _problems(("to", f"at most {settings.notification_max_recipients} recipients"))
    try:
        await limits.limiter.check(limits.channel[send_request.channel],
                                   f"{send_request.channel} notifications", tenant_id,
                                   send_request.channel)  # fmt: skip
        for recipient in dict.fromkeys(send_request.to):
            await limits.limiter.check(limits.recipient, f"recipient {recipient}", tenant_id,
                                       send_request.channel, recipient)  # fmt: skip
    except RateLimitExceeded as exc:
        retry_after = str(max(1, round(exc.retry_after)))
        return JSONResponse(
            {"detail": str(exc)}, status_code=429, headers={"Retry-After": retry_after}
        )
    try:
        rows, created = await accept(session, tenant_id, send_request,
                                     max_attempts=len(_retry_steps(settings)))  # fmt: skip
    except (NotificationRequestError, TemplateError) as exc:
        raise _problems((exc.field, exc.message)) from None
    except ValueError as exc:
        raise _problems(("body", str(exc))) from None
    if created:
        queue = queue_for_priority(send_request.priority)
        runtime_of(request).send(TASK_SEND, [r.id for r in rows], queue=queue)
    out = {"status": "queued" if created else rows[0].status, "duplicate": not created,
           "notifications": [NotificationOut.model_validate(r, from_attributes=True)
                             .model_dump(mode="json") for r in rows]}  # fmt: skip
    return JSONResponse(out, status_code=202)


def _retry_steps(settings: NotificationSettings) -> list[str]:
    return [p for p in settings.notification_retry_schedule.split(",") if p.strip()]


@router.post("/email", status_code=202, response_model=SendOut)
async def send_email(
    *,
    body: EmailIn,
    request: Request,
    session: Session,
    idempotency_key: IdempotencyKey = None,
    principal: NotificationsSend,
) -> JSONResponse:
    try:
        attachments = [
            Attachment(a.filename, a.content(), a.content_type) for a in body.attachments
        ]
    except ValueError as exc:
        raise _problems(("attachments", str(exc))) from None
    return await _send(request, session, principal.tenant_id, SendRequest(
        channel="email", to=body.to, subject=body.subject, body=body.body,
        html_body=body.html_body, template=body.template_id, template_data=body.template_data,
        attachments=attachments, priority=body.priority, idempotency_key=idempotency_key,
        request_id=request_id_var.get(),
    ))  # fmt: skip


@router.post("/sms", status_code=202, response_model=SendOut)
async def send_sms(
    *,
    body: SmsIn,
    request: Request,
    session: Session,
    idempotency_key: IdempotencyKey = None,
    principal: NotificationsSend,
) -> JSONResponse:
    return await _send(request, session, principal.tenant_id, SendRequest(
        channel="sms", to=body.to, body=body.message, template=body.template_id,
        template_data=body.template_data, priority=body.priority,
        idempotency_key=idempotency_key, request_id=request_id_var.get(),
    ))  # fmt: skip


@router.get("", response_model=list[NotificationOut])
async def list_notifications(
    *,
    session: Session,
    status: Annotated[str | None, Query(pattern="^(queued|sent|failed|retrying)$")] = None,
    channel: Annotated[str | None, Query(pattern="^(email|sms)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    principal: NotificationsRead,
) -> list[Notification]:
    stmt = select(Notification).where(Notification.tenant_id == principal.tenant_id)
    if status:
        stmt = stmt.where(Notification.status == status)
    if channel:
        stmt = stmt.where(Notification.channel == channel)
    rows = await session.scalars(
        stmt.order_by(Notification.created_at.desc()).limit(limit).offset(offset)
    )
    return list(rows)


@router.get("/summary", response_model=NotificationSummary)
async def notification_summary(
    *, session: Session, since: Since = None, principal: NotificationsRead
) -> NotificationSummary:
    """Counts by status over the window: one aggregate over (tenant_id, created_at)."""
    start = since_or_default(since)
    rows = await session.execute(
        select(Notification.status, func.count())
        .where(Notification.tenant_id == principal.tenant_id, Notification.created_at >= start)
        .group_by(Notification.status)
    )
    by_status = {str(status): int(count) for status, count in rows.all()}
    return NotificationSummary(since=start, total=sum(by_status.values()), by_status=by_status)


@router.get("/{notification_id}", response_model=NotificationDetail)
async def get_notification(
    *, notification_id: str, session: Session, principal: NotificationsRead
) -> Notification:
    return await get_owned(session, Notification, notification_id, principal.tenant_id,
                           "notification")  # fmt: skip
