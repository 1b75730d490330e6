"""Inbound Wompi events, verified with mimeiapify's Wompi verification and turned
into ``wompi.<event>`` events (e.g. ``wompi.transaction.updated``) for the rules.

Wompi cannot send our credentials, so the URL names the tenant and the event's
checksum (SHA-256 over the properties Wompi signs, the timestamp and the tenant's
events secret, set with ``PUT /integrations/wompi/settings``) proves it came from
Wompi. Beyond the checksum:

- the event must sign what Wompi signs for its type (transaction id, status and
  amount) and carry nothing else in ``data`` (:func:`mimeiapify.wompi.protocol.event_problem`);
- an event signed more than ``WOMPI_MAX_EVENT_AGE_SECONDS`` ago is refused;
- an event is stored once: a re-sent or replayed one (same transaction id, status
  and signed timestamp) answers 200 with the first event's id and ``duplicate``.
  Receipts older than the maximum age can never match again (such events are
  refused) and are pruned now and then, per tenant;
- an unknown tenant, a tenant without Wompi, and a wrong checksum all answer the
  same 400 after the same work, so the route does not tell which tenants exist.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import valid_tenant_id
from automation.integrations.models import WompiEventReceipt
from automation.integrations.store import load
from automation.models import new_id
from automation.routers.common import runtime_of, session_dependency
from automation.routers.events import accept_event
from mimeiapify.wompi.protocol import MAX_CLOCK_SKEW_SECONDS, event_age_problem, event_problem
from mimeiapify.wompi_async import WompiAsync

router = APIRouter(prefix="/integrations/wompi", tags=["integrations"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
MAX_BODY = 1024 * 1024
BAD_SIGNATURE = "signature: the event checksum does not match"
# One new receipt in this many also prunes the tenant's receipts past the maximum age.
PRUNE_EVERY = 50
# Checked against when the tenant has no events secret, so that case costs the same
# work as a wrong checksum and answers the same.
_DECOY_SECRET = secrets.token_urlsafe(32)


class WompiAccepted(BaseModel):
    event_id: str
    event_type: str
    # True when this event was received before (Wompi re-sends until it gets a 200)
    duplicate: bool = False


async def _events_secret(session: AsyncSession, tenant_id: str) -> str | None:
    if not valid_tenant_id(tenant_id):
        return None
    credentials = await load(session, tenant_id, "wompi")
    return credentials.secrets.get("events_secret") if credentials else None


def _receipt(tenant_id: str, payload: dict[str, Any], event_id: str) -> WompiEventReceipt:
    event_type = str(payload["event"])
    resource = payload["data"][event_type.partition(".")[0]]
    return WompiEventReceipt(
        tenant_id=tenant_id,
        resource_id=str(resource.get("id"))[:200],
        status=str(resource.get("status"))[:50],
        signed_at=int(payload["timestamp"]),
        event_id=event_id,
    )


async def _first_receipt(session: AsyncSession, receipt: WompiEventReceipt) -> str | None:
    """Record the receipt; None when it is new, else the first event's id."""
    session.add(receipt)
    try:
        await session.commit()
        return None
    except IntegrityError:
        await session.rollback()
    found = await session.scalar(
        select(WompiEventReceipt.event_id).where(
            WompiEventReceipt.tenant_id == receipt.tenant_id,
            WompiEventReceipt.resource_id == receipt.resource_id,
            WompiEventReceipt.status == receipt.status,
            WompiEventReceipt.signed_at == receipt.signed_at,
        )
    )
    return str(found)


async def prune_receipts(session: AsyncSession, tenant_id: str, signed_before: float) -> int:
    """Forget the tenant's receipts of events signed before ``signed_before`` (epoch
    seconds); returns how many."""
    result: Any = await session.execute(
        delete(WompiEventReceipt).where(
            WompiEventReceipt.tenant_id == tenant_id,
            WompiEventReceipt.signed_at < int(signed_before),
        )
    )
    await session.commit()
    return int(result.rowcount or 0)


@router.post("/{tenant_id}/events", response_model=WompiAccepted, status_code=200)
async def receive_wompi_event(tenant_id: str, request: Request, session: Session) -> WompiAccepted:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, detail=f"body: larger than {MAX_BODY} bytes")
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        raise HTTPException(400, detail="body: not JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(400, detail="body: not a JSON object")
    problem = event_problem(payload)
    if problem is not None:
        raise HTTPException(400, detail=problem)
    secret = await _events_secret(session, tenant_id)
    header = request.headers.get("x-event-checksum")
    verified = WompiAsync.verify_webhook_event(payload, secret or _DECOY_SECRET, header)
    if not verified or secret is None:
        raise HTTPException(400, detail=BAD_SIGNATURE)
    max_age = runtime_of(request).settings.wompi_max_event_age_seconds
    problem = event_age_problem(payload, max_age)
    if problem is not None:
        raise HTTPException(400, detail=f"timestamp: {problem}")

    event_type = f"wompi.{payload['event']}"
    event_id = new_id()
    receipt = _receipt(tenant_id, payload, event_id)
    first = await _first_receipt(session, receipt)
    if first is not None:
        return WompiAccepted(event_id=first, event_type=event_type, duplicate=True)
    if secrets.randbelow(PRUNE_EVERY) == 0:
        await prune_receipts(session, tenant_id, time.time() - max_age - MAX_CLOCK_SKEW_SECONDS)
    data = {
        **payload["data"],
        "environment": payload.get("environment"),
        "sent_at": payload.get("sent_at"),
        "timestamp": payload.get("timestamp"),
    }
    try:
        event = await accept_event(
            request, tenant_id, event_type, data, source="wompi", event_id=event_id
        )
    except BaseException:
        # not stored: forget the receipt so Wompi's next attempt is not a "duplicate"
        await session.execute(delete(WompiEventReceipt).where(WompiEventReceipt.id == receipt.id))
        await session.commit()
        raise
    return WompiAccepted(event_id=event.id, event_type=event_type)
