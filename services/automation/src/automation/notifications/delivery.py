"""Accepting notifications and sending the ones that are due.

A send request is rendered when it is accepted (a missing template variable
fails the request, not a background task) and stored as one row per
recipient. A worker claims due rows with a lease, sends them, and writes the
outcome: ``sent`` with the provider's message id, ``retrying`` with the next
attempt's time, or ``failed`` with the last error.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.db import Database, utcnow
from automation.delivery.leasing import claim_due
from automation.delivery.retry import RetrySchedule
from automation.notifications.config import NotificationSettings
from automation.notifications.models import Notification, NotificationTemplate
from automation.notifications.sms import SmsError, SmsSender
from automation.notifications.smtp import Attachment, Email, EmailDeliveryError, SmtpEmailSender
from automation.notifications.templates import TemplateRenderer, default_renderer
from mimeia_telemetry import tracing

QUEUED, SENT, FAILED, RETRYING = "queued", "sent", "failed", "retrying"
CHANNELS = ("email", "sms")
PRIORITIES = ("low", "normal", "high", "critical")

Clock = Callable[[], datetime]


class NotificationRequestError(ValueError):
    """A send request that cannot be accepted; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass
class SendRequest:
    """What the API, a rule action or a workflow step asks to send."""

    channel: str
    to: Sequence[str]
    subject: str | None = None
    body: str | None = None
    html_body: str | None = None
    template: str | None = None  # a template's id or name
    template_data: dict[str, Any] = field(default_factory=dict)
    attachments: Sequence[Attachment] = ()
    priority: str = "normal"
    idempotency_key: str | None = None
    request_id: str | None = None
    # The inline subject/body/html_body are final text, not templates: the engine
    # already rendered them (a step or rule action), so rendering them again would
    # run whatever template syntax the event's data put in them.
    literal: bool = False


async def find_template(
    session: AsyncSession, tenant_id: str, id_or_name: str
) -> NotificationTemplate | None:
    """This tenant's template by id or by name."""
    return await session.scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.tenant_id == tenant_id,
            or_(NotificationTemplate.id == id_or_name, NotificationTemplate.name == id_or_name),
        )
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html_body: str | None


async def render_request(
    session: AsyncSession,
    tenant_id: str,
    request: SendRequest,
    renderer: TemplateRenderer = default_renderer,
) -> tuple[Rendered, str | None]:
    """The subject and bodies to send, from a stored template or the inline text.

    Inline text is a template too (``{{ user_name }}`` works with template_data).
    """
    template_id: str | None = None
    subject, body, html = request.subject, request.body, request.html_body
    given = {"subject": subject, "body": body, "html_body": html}
    literal = {k for k, v in given.items() if v is not None} if request.literal else set()
    if request.template:
        template = await find_template(session, tenant_id, request.template)
        if template is None:
            raise NotificationRequestError("template_id", f"no template {request.template!r}")
        if template.channel != request.channel:
            raise NotificationRequestError(
                "template_id", f"template {template.name!r} is for {template.channel}"
            )
        template_id = template.id
        # inline fields, when given, override the template's
        subject = subject if subject is not None else template.subject
        body = body if body is not None else template.body
        html = html if html is not None else template.html_body
    if not body and not html:
        raise NotificationRequestError("body", "give a body, an html_body or a template_id")
    sources = {"subject": subject or "", "body": body or "", "html_body": html or None}
    rendered = await renderer.render_fields_async(
        [(f, None if f in literal else text, f == "html_body") for f, text in sources.items()],
        request.template_data,
    )
    out = [sources[f] if f in literal else text for f, text in zip(sources, rendered, strict=True)]
    return Rendered(subject=out[0] or "", body=out[1] or "", html_body=out[2]), template_id


async def accept(
    session: AsyncSession,
    tenant_id: str,
    request: SendRequest,
    *,
    max_attempts: int,
    now: datetime | None = None,
) -> tuple[list[Notification], bool]:
    """Store one queued notification per recipient, with the current trace; (rows, created).

    With an idempotency key, a repeat returns the rows of the first request.
    """
    if request.idempotency_key:
        earlier = await _by_key(session, tenant_id, request.idempotency_key)
        if earlier:
            return earlier, False
    rendered, template_id = await render_request(session, tenant_id, request)
    when = now or utcnow()
    attachments = [
        {"filename": a.filename, "content_type": a.content_type,
         "content_b64": base64.b64encode(a.content).decode()}
        for a in request.attachments
    ]  # fmt: skip
    rows = [
        Notification(
            tenant_id=tenant_id, channel=request.channel, recipient=recipient,
            subject=rendered.subject, body=rendered.body, html_body=rendered.html_body,
            attachments=attachments, template_id=template_id, priority=request.priority,
            status=QUEUED, max_attempts=max_attempts, next_attempt_at=when,
            idempotency_key=request.idempotency_key,
            request_id=request.request_id, traceparent=tracing.current_traceparent(),
            created_at=when,
        )
        for recipient in dict.fromkeys(request.to)  # each recipient once, in order
    ]  # fmt: skip
    session.add_all(rows)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        earlier = await _by_key(session, tenant_id, request.idempotency_key or "")
        if not earlier:
            raise
        return earlier, False
    return rows, True


async def _by_key(session: AsyncSession, tenant_id: str, key: str) -> list[Notification]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.tenant_id == tenant_id, Notification.idempotency_key == key)
        .order_by(Notification.created_at)
    )
    return list(rows)


async def claim(
    session: AsyncSession, now: datetime, lease: timedelta, *, limit: int = 50,
    ids: Sequence[str] | None = None,
) -> list[str]:  # fmt: skip
    """Lease due notifications nobody holds; return the ids now ours."""
    conditions = [Notification.status.in_((QUEUED, RETRYING))]
    if ids is not None:
        conditions.append(Notification.id.in_(list(ids)))
    return await claim_due(session, Notification, conditions, now=now, lease=lease, limit=limit)


class NotificationDispatcher:
    """Sends claimed notifications through SMTP or the SMS provider chain."""

    def __init__(
        self,
        database: Database,
        settings: NotificationSettings,
        *,
        email: SmtpEmailSender | None = None,
        sms: SmsSender | None = None,
        clock: Clock = utcnow,
        concurrency: int = 20,
    ) -> None:
        self.database = database
        self.settings = settings
        self.email = email or SmtpEmailSender(settings.smtp())
        self.sms = sms or settings.sms_sender()
        self.schedule = RetrySchedule.parse(
            settings.notification_retry_schedule, jitter=settings.notification_retry_jitter
        )
        self.clock = clock
        self._slots = asyncio.Semaphore(concurrency)

    async def run_due(self, *, limit: int = 50, ids: Sequence[str] | None = None) -> list[str]:
        """Claim and send what is due; return the resulting statuses."""
        lease = timedelta(seconds=self.settings.notification_lease_seconds)
        async with self.database.session() as session:
            claimed = await claim(session, self.clock(), lease, limit=limit, ids=ids)
        return list(await asyncio.gather(*(self._guarded(i) for i in claimed)))

    async def _guarded(self, notification_id: str) -> str:
        async with self._slots:
            return await self.send_one(notification_id)

    async def send_one(self, notification_id: str) -> str:
        async with self.database.session() as session:
            row = await session.get(Notification, notification_id)
            if row is None:
                return FAILED
            await session.commit()
            permanent = False
            # every attempt, first or swept, in the trace of the request that accepted it
            attributes = {"notification.id": row.id, "notification.channel": row.channel}
            with tracing.resume(row.traceparent, "notification.attempt", attributes=attributes,
                                attempt=row.attempts + 1) as current:  # fmt: skip
                try:
                    provider, message_id = await self._send(row)
                except (EmailDeliveryError, SmsError) as exc:
                    error = str(exc)
                    permanent = isinstance(exc, EmailDeliveryError) and exc.permanent
                    permanent |= isinstance(exc, SmsError) and exc.message_problem
                    provider, message_id = None, None
                    tracing.record_error(current, exc, details=False)
                except ValueError as exc:  # the stored message itself cannot be sent
                    error, permanent, provider, message_id = str(exc), True, None, None
                    tracing.record_error(current, exc, details=False)
            now = self.clock()
            row.attempts += 1
            row.lease_until = None
            if message_id is not None:
                row.status, row.provider, row.provider_message_id = SENT, provider, message_id
                row.sent_at, row.next_attempt_at, row.last_error = now, None, None
            else:
                row.last_error = error
                nxt = None
                if not permanent and row.attempts < row.max_attempts:
                    nxt = self.schedule.next_attempt_at(row.attempts, now)
                row.status = RETRYING if nxt is not None else FAILED
                row.next_attempt_at = nxt
            await session.commit()
            return row.status

    async def _send(self, row: Notification) -> tuple[str, str]:
        if row.channel == "email":
            attachments = [
                Attachment(a["filename"], base64.b64decode(a["content_b64"]), a.get("content_type"))
                for a in row.attachments or []
            ]
            mail = Email(to=[row.recipient], subject=row.subject, text=row.body or None,
                         html=row.html_body, attachments=attachments)  # fmt: skip
            return "smtp", await self.email.send(mail)
        receipt = await self.sms.send(row.recipient, row.body)
        return receipt.provider, receipt.message_id
