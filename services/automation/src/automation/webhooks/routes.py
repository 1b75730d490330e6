"""The webhook API under ``/api/v1/webhooks``: endpoints, delivery, messages, replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import Principal, require
from automation.db import utcnow
from automation.netguard import InvalidWebhookURL, check_url
from automation.routers.common import (
    Since,
    get_owned,
    runtime_of,
    session_dependency,
    since_or_default,
)
from automation.webhooks.config import WebhookSettings
from automation.webhooks.delivery import active_secrets, create_message, replay
from automation.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from automation.webhooks.schemas import (
    AttemptOut,
    DeliverRequest,
    DeliverResponse,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    MessageOut,
    ReplayRequest,
    ReplayResponse,
    RotateSecret,
    SecretInfo,
    SecretOut,
    WebhookSummary,
)
from automation.webhooks.signing import InvalidWebhookSecret, canonical_secret, generate_secret
from automation.webhooks.tasks import TASK_DELIVER, TASK_SWEEP

WebhooksRead = Annotated[Principal, Depends(require("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require("webhooks:write"))]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
AttemptLimit = Annotated[int, Query(ge=1, le=200)]


def webhook_settings(request: Request) -> WebhookSettings:
    settings: WebhookSettings | None = getattr(request.app.state, "webhook_settings", None)
    if settings is None:
        settings = WebhookSettings()
        request.app.state.webhook_settings = settings
    return settings


Settings = Annotated[WebhookSettings, Depends(webhook_settings)]


def _problem(field: str, message: str) -> HTTPException:
    return HTTPException(
        422, detail={"detail": "validation failed",
                     "problems": [{"field": field, "message": message}]},
    )  # fmt: skip


def _checked_url(url: str, settings: WebhookSettings) -> str:
    try:
        return check_url(url, settings.address_policy())
    except InvalidWebhookURL as exc:
        raise _problem("url", str(exc)) from None


def _checked_secret(secret: str | None) -> str:
    try:
        return generate_secret() if secret is None else canonical_secret(secret)
    except InvalidWebhookSecret as exc:
        raise _problem("secret", str(exc)) from None


def _endpoint_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id, "name": endpoint.name, "description": endpoint.description,
        "url": endpoint.url, "events": endpoint.event_types, "headers": endpoint.headers,
        "rate_limit": endpoint.rate_limit, "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason, "failing_since": endpoint.failing_since,
        "created_at": endpoint.created_at, "updated_at": endpoint.updated_at,
    }  # fmt: skip


async def _endpoint(session: AsyncSession, endpoint_id: str, tenant_id: str) -> WebhookEndpoint:
    return await get_owned(session, WebhookEndpoint, endpoint_id, tenant_id, "webhook endpoint")


@router.post("/endpoints", status_code=201, response_model=EndpointWithSecret)
async def create_endpoint(
    *,
    body: EndpointCreate,
    session: Session,
    settings: Settings,
    principal: WebhooksWrite,
) -> dict[str, Any]:
    endpoint = WebhookEndpoint(
        tenant_id=principal.tenant_id, name=body.name, description=body.description,
        url=_checked_url(body.url, settings), event_types=body.events,
        secret=_checked_secret(body.secret), previous_secrets=[], headers=body.headers,
        rate_limit=body.rate_limit, enabled=body.enabled,
    )  # fmt: skip
    session.add(endpoint)
    await session.commit()
    return {**_endpoint_out(endpoint), "secret": endpoint.secret}


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@router.get("/summary", response_model=WebhookSummary)
async def webhook_summary(
    *, session: Session, since: Since = None, principal: WebhooksRead
) -> WebhookSummary:
    """Counts for a dashboard: one aggregate over the endpoints, one over the deliveries."""
    start = since_or_default(since)
    ep = WebhookEndpoint
    endpoints, failing, disabled = (
        await session.execute(
            select(
                func.count(),
                _count_where(ep.enabled.is_(True) & ep.failing_since.is_not(None)),
                _count_where(ep.enabled.is_(False)),
            ).where(ep.tenant_id == principal.tenant_id)
        )
    ).one()
    d = WebhookDelivery
    rows = await session.execute(
        select(d.status, func.count(), _count_where(d.attempts > 0))
        .where(d.tenant_id == principal.tenant_id, d.created_at >= start)
        .group_by(d.status)
    )
    deliveries: dict[str, int] = {}
    retrying = 0
    for status, count, attempted in rows.all():
        deliveries[str(status)] = int(count)
        if status == "pending":
            retrying = int(attempted)
    return WebhookSummary(
        since=start, endpoints=int(endpoints), endpoints_failing=int(failing),
        endpoints_disabled=int(disabled), deliveries=deliveries,
        deliveries_failing=deliveries.get("failed", 0) + retrying,
    )  # fmt: skip


@router.get("/endpoints", response_model=list[EndpointOut])
async def list_endpoints(
    *,
    session: Session,
    limit: Limit = 100,
    offset: Offset = 0,
    principal: WebhooksRead,
) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == principal.tenant_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        .limit(limit)
        .offset(offset)
    )
    return [_endpoint_out(e) for e in rows]


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut)
async def get_endpoint(
    *, endpoint_id: str, session: Session, principal: WebhooksRead
) -> dict[str, Any]:
    return _endpoint_out(await _endpoint(session, endpoint_id, principal.tenant_id))


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut)
async def update_endpoint(
    *,
    endpoint_id: str,
    body: EndpointUpdate,
    session: Session,
    settings: Settings,
    principal: WebhooksWrite,
) -> dict[str, Any]:
    endpoint = await _endpoint(session, endpoint_id, principal.tenant_id)
    changes = body.model_dump(exclude_unset=True)
    if "url" in changes and changes["url"] is not None:
        endpoint.url = _checked_url(changes["url"], settings)
    for name in ("name", "description", "headers"):
        if changes.get(name) is not None:
            setattr(endpoint, name, changes[name])
    if changes.get("events") is not None:
        endpoint.event_types = changes["events"]
    if "rate_limit" in changes:
        endpoint.rate_limit = changes["rate_limit"]
    if changes.get("enabled") is not None:
        _set_enabled(endpoint, changes["enabled"])
    await session.commit()
    return _endpoint_out(endpoint)


def _set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> None:
    endpoint.enabled = enabled
    endpoint.disabled_reason = None if enabled else "disabled through the API"
    if enabled:
        endpoint.failing_since = None


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(
    *, endpoint_id: str, session: Session, principal: WebhooksWrite
) -> Response:
    endpoint = await _endpoint(session, endpoint_id, principal.tenant_id)
    await session.delete(endpoint)
    await session.commit()
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/enable", response_model=EndpointOut)
async def enable_endpoint(
    *, endpoint_id: str, session: Session, principal: WebhooksWrite
) -> dict[str, Any]:
    endpoint = await _endpoint(session, endpoint_id, principal.tenant_id)
    _set_enabled(endpoint, True)
    await session.commit()
    return _endpoint_out(endpoint)


@router.post("/endpoints/{endpoint_id}/disable", response_model=EndpointOut)
async def disable_endpoint(
    *, endpoint_id: str, session: Session, principal: WebhooksWrite
) -> dict[str, Any]:
    endpoint = await _endpoint(session, endpoint_id, principal.tenant_id)
    _set_enabled(endpoint, False)
    await session.commit()
    return _endpoint_out(endpoint)


def _expiries(endpoint: WebhookEndpoint) -> list[datetime]:
    now = utcnow()
    expiries = [datetime.fromisoformat(o["expires_at"]) for o in endpoint.previous_secrets or []]
    return [e for e in expiries if e > now]


def _secret_out(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"secret": endpoint.secret, "previous_secrets_expire_at": _expiries(endpoint)}


@router.get("/endpoints/{endpoint_id}/secret", response_model=SecretInfo)
async def get_secret(
    *, endpoint_id: str, session: Session, principal: WebhooksWrite
) -> dict[str, Any]:
    """Whether a secret is set and when the previous ones stop signing; the secret
    itself is returned only at creation and rotation (it is sealed at rest)."""
    endpoint = await _endpoint(session, endpoint_id, principal.tenant_id)
    return {"secret_set": bool(endpoint.secret), "previous_secrets_expire_at": _expiries(endpoint)}


@router.post("/endpoints/{endpoint_id}/secret/rotate", response_model=SecretOut)
async def rotate_secret(
    *,
    endpoint_id: str,
    body: RotateSecret,
    session: Session,
    settings: Settings,
    principal: WebhooksWrite,
) -> dict[str, Any]:
    """New secret now; the old one keeps signing (alongside) for the overlap."""
    endpoint = await _endpoint(session, endpoint_id, principal.tenant_id)
    new_secret = _checked_secret(body.secret)
    now = utcnow()
    overlap = (
        settings.secret_overlap_seconds if body.overlap_seconds is None else body.overlap_seconds
    )
    kept = [{"secret": s, "expires_at": _expiry(endpoint, s, now)}
            for s in active_secrets(endpoint, now)]  # fmt: skip
    kept[0]["expires_at"] = (now + timedelta(seconds=overlap)).isoformat()
    endpoint.previous_secrets = [k for k in kept if datetime.fromisoformat(k["expires_at"]) > now]
    endpoint.secret = new_secret
    await session.commit()
    return _secret_out(endpoint)


def _expiry(endpoint: WebhookEndpoint, secret: str, now: datetime) -> str:
    for old in endpoint.previous_secrets or []:
        if old["secret"] == secret:
            return str(old["expires_at"])
    return now.isoformat()


@router.post("/deliver", status_code=202, response_model=DeliverResponse)
async def deliver(
    *,
    body: DeliverRequest,
    request: Request,
    session: Session,
    settings: Settings,
    idempotency_key: IdempotencyKey = None,
    principal: WebhooksWrite,
) -> dict[str, Any]:
    """Send an event to every matching endpoint; a repeated Idempotency-Key sends nothing."""
    size = len(body.model_dump_json())
    if size > settings.max_payload_bytes:
        raise _problem("payload", f"larger than {settings.max_payload_bytes} bytes")
    new = await create_message(session, principal.tenant_id, body.event_type, body.payload,
                               idempotency_key=idempotency_key,
                               endpoint_ids=body.endpoint_ids)  # fmt: skip
    if new.created and new.delivery_ids:
        runtime_of(request).send(TASK_DELIVER, new.message.id, queue="webhook")
    return {"message_id": new.message.id, "event_type": new.message.event_type,
            "endpoints": len(new.delivery_ids), "duplicate": not new.created}  # fmt: skip


def _delivery_out(d: WebhookDelivery, event_type: str | None = None) -> dict[str, Any]:
    return {
        "id": d.id, "message_id": d.message_id, "endpoint_id": d.endpoint_id,
        "event_type": event_type, "status": d.status, "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at, "last_status_code": d.last_status_code,
        "last_error": d.last_error, "created_at": d.created_at, "finished_at": d.finished_at,
    }  # fmt: skip


@router.get("/messages", response_model=list[MessageOut])
async def list_messages(
    *,
    session: Session,
    event_type: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    principal: WebhooksRead,
) -> list[dict[str, Any]]:
    stmt = select(WebhookMessage).where(WebhookMessage.tenant_id == principal.tenant_id)
    if event_type:
        stmt = stmt.where(WebhookMessage.event_type == event_type)
    rows = await session.scalars(
        stmt.order_by(WebhookMessage.created_at.desc()).limit(limit).offset(offset)
    )
    return [_message_out(m, []) for m in rows]


def _message_out(m: WebhookMessage, deliveries: list[WebhookDelivery]) -> dict[str, Any]:
    return {"id": m.id, "event_type": m.event_type, "payload": m.payload,
            "idempotency_key": m.idempotency_key, "created_at": m.created_at,
            "deliveries": [_delivery_out(d, m.event_type) for d in deliveries]}  # fmt: skip


@router.get("/messages/{message_id}", response_model=MessageOut)
async def get_message(
    *, message_id: str, session: Session, principal: WebhooksRead
) -> dict[str, Any]:
    message = await get_owned(session, WebhookMessage, message_id, principal.tenant_id, "message")
    deliveries = await session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.message_id == message.id)
    )
    return _message_out(message, list(deliveries))


@router.get("/messages/{message_id}/attempts", response_model=list[AttemptOut])
async def message_attempts(
    *,
    message_id: str,
    session: Session,
    limit: AttemptLimit = 50,
    offset: Offset = 0,
    principal: WebhooksRead,
) -> list[WebhookAttempt]:
    """The message's attempts, oldest first, ``limit`` (at most 200) at a time."""
    await get_owned(session, WebhookMessage, message_id, principal.tenant_id, "message")
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.tenant_id == principal.tenant_id,
               WebhookAttempt.message_id == message_id)
        .order_by(WebhookAttempt.created_at, WebhookAttempt.attempt_number, WebhookAttempt.id)
        .limit(limit).offset(offset)
    )  # fmt: skip
    return list(rows)


@router.get("/endpoints/{endpoint_id}/messages", response_model=list[DeliveryOut])
async def endpoint_messages(
    *,
    endpoint_id: str,
    session: Session,
    status: Annotated[str | None, Query(pattern="^(pending|succeeded|failed)$")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    principal: WebhooksRead,
) -> list[dict[str, Any]]:
    await _endpoint(session, endpoint_id, principal.tenant_id)
    stmt = (
        select(WebhookDelivery, WebhookMessage.event_type)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.tenant_id == principal.tenant_id,
               WebhookDelivery.endpoint_id == endpoint_id)
    )  # fmt: skip
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    rows = await session.execute(
        stmt.order_by(WebhookDelivery.created_at.desc()).limit(limit).offset(offset)
    )
    return [_delivery_out(d, event_type) for d, event_type in rows.all()]


@router.get("/endpoints/{endpoint_id}/attempts", response_model=list[AttemptOut])
async def endpoint_attempts(
    *,
    endpoint_id: str,
    session: Session,
    limit: Limit = 100,
    offset: Offset = 0,
    principal: WebhooksRead,
) -> list[WebhookAttempt]:
    await _endpoint(session, endpoint_id, principal.tenant_id)
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.tenant_id == principal.tenant_id,
               WebhookAttempt.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.created_at.desc()).limit(limit).offset(offset)
    )  # fmt: skip
    return list(rows)


@router.post(
    "/endpoints/{endpoint_id}/messages/{message_id}/replay",
    status_code=202,
    response_model=ReplayResponse,
)
async def replay_message(
    *,
    endpoint_id: str,
    message_id: str,
    request: Request,
    session: Session,
    principal: WebhooksWrite,
) -> dict[str, Any]:
    await _endpoint(session, endpoint_id, principal.tenant_id)
    await get_owned(session, WebhookMessage, message_id, principal.tenant_id, "message")
    ids = await replay(session, principal.tenant_id, endpoint_id=endpoint_id,
                       message_id=message_id)  # fmt: skip
    if not ids:
        raise HTTPException(404, detail=f"message {message_id} was never sent to this endpoint")
    runtime_of(request).send(TASK_DELIVER, message_id, queue="webhook")
    return {"replayed": len(ids), "delivery_ids": ids}


@router.post("/endpoints/{endpoint_id}/replay", status_code=202, response_model=ReplayResponse)
async def replay_failed(
    *,
    endpoint_id: str,
    body: ReplayRequest,
    request: Request,
    session: Session,
    principal: WebhooksWrite,
) -> dict[str, Any]:
    """Every failed delivery of the endpoint (since ``since``) becomes due again."""
    await _endpoint(session, endpoint_id, principal.tenant_id)
    ids = await replay(session, principal.tenant_id, endpoint_id=endpoint_id,
                       failed_since=body.since)  # fmt: skip
    if ids:
        runtime_of(request).send(TASK_SWEEP, queue="webhook")
    return {"replayed": len(ids), "delivery_ids": ids}
