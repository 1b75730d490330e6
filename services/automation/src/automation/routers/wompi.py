"""Inbound Wompi events, verified with mimeiapify's Wompi verification and turned
into ``wompi.<event>`` events (e.g. ``wompi.transaction.updated``) for the rules.

Wompi cannot send our credentials, so the URL names the tenant and the event's
checksum (SHA-256 over the listed properties, the timestamp and the tenant's
events secret) proves it came from Wompi.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import TENANT_ID, IntegrationsWrite
from automation.models import Tenant
from automation.routers.common import session_dependency
from automation.routers.events import accept_event
from mimeiapify.wompi_async import WompiAsync

router = APIRouter(prefix="/integrations/wompi", tags=["integrations"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
MAX_BODY = 1024 * 1024


class WompiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events_secret: str = Field(
        min_length=8, max_length=200, description="the merchant's events secret from Wompi"
    )


class WompiAccepted(BaseModel):
    event_id: str
    event_type: str


@router.put("/settings", status_code=204)
async def set_wompi_settings(
    body: WompiSettings, session: Session, principal: IntegrationsWrite
) -> None:
    await session.execute(
        update(Tenant)
        .where(Tenant.id == principal.tenant_id)
        .values(wompi_events_secret=body.events_secret)
    )
    await session.commit()


@router.post("/{tenant_id}/events", response_model=WompiAccepted, status_code=200)
async def receive_wompi_event(tenant_id: str, request: Request, session: Session) -> WompiAccepted:
    if not TENANT_ID.match(tenant_id):
        raise HTTPException(404, detail="unknown tenant")
    tenant = await session.get(Tenant, tenant_id)
    secret = tenant.wompi_events_secret if tenant else None
    if not secret:
        raise HTTPException(404, detail="unknown tenant")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, detail=f"body: larger than {MAX_BODY} bytes")
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        raise HTTPException(400, detail="body: not JSON") from None
    header = request.headers.get("x-event-checksum")
    if not WompiAsync.verify_webhook_event(payload, secret, header):
        raise HTTPException(400, detail="signature: the event checksum does not match")
    event_name = payload.get("event")
    data = payload.get("data")
    if not isinstance(event_name, str) or not isinstance(data, dict):
        raise HTTPException(400, detail="event: 'event' and 'data' are required")
    event_type = f"wompi.{event_name}"
    event = await accept_event(
        request,
        tenant_id,
        event_type,
        {
            **data,
            "environment": payload.get("environment"),
            "sent_at": payload.get("sent_at"),
            "timestamp": payload.get("timestamp"),
        },
        source="wompi",
    )
    return WompiAccepted(event_id=event.id, event_type=event_type)
