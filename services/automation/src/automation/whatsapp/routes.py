"""Meta's WhatsApp webhook for one tenant: ``/integrations/whatsapp/{tenant_id}/webhook``.

- ``GET`` answers the subscription handshake: ``hub.challenge`` when
  ``hub.verify_token`` is the tenant's verify token, else 403.
- ``POST`` reads at most 1 MiB (413), checks ``X-Hub-Signature-256`` against the
  tenant's app secret in constant time (403; an unknown tenant costs the same
  work and answers the same), then turns each inbound message into a
  ``whatsapp.message.received`` event and each status into ``whatsapp.message.status``.
  Only changes for the tenant's own ``phone_number_id`` count. Meta redelivers
  until it gets a 200: an event's id is derived from the tenant and the message
  id (and status), so a redelivery is recorded once and answered 200 again.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import valid_tenant_id
from automation.integrations.store import Credentials, load
from automation.routers.common import session_dependency
from automation.routers.events import accept_event
from automation.whatsapp import provider as _provider  # noqa: F401 (registers "whatsapp")
from mimeiapify.errors import WhatsAppSignatureError
from mimeiapify.whatsapp.models import InboundMessage, StatusUpdate
from mimeiapify.whatsapp.webhook import SIGNATURE_HEADER, parse_webhook, verify_signature
from mimeiapify.whatsapp_async import WhatsAppAsync

router = APIRouter(prefix="/integrations/whatsapp", tags=["integrations"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
MAX_BODY = 1024 * 1024
BAD_SIGNATURE = f"{SIGNATURE_HEADER}: the signature does not match the body"
# an event id is uuid5(this, tenant + message id [+ status]): redeliveries collide
EVENT_NAMESPACE = uuid.UUID("6f1d3c52-57a1-4c1e-9a1b-8f9a7a0e4b21")
_DECOY_SECRET = secrets.token_urlsafe(32)


class WhatsAppAccepted(BaseModel):
    events: list[str]
    duplicates: int = 0


async def _credentials(session: AsyncSession, tenant_id: str) -> Credentials | None:
    if not valid_tenant_id(tenant_id):
        return None
    return await load(session, tenant_id, "whatsapp")


@router.get("/{tenant_id}/webhook", response_class=PlainTextResponse)
async def whatsapp_handshake(
    tenant_id: str,
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=50)] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token", max_length=500)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=200)] = None,
) -> PlainTextResponse:
    credentials = await _credentials(session, tenant_id)
    expected = credentials.secrets["verify_token"] if credentials else _DECOY_SECRET
    answer = WhatsAppAsync.verify_subscription(mode, token, challenge, expected)
    if answer is None or credentials is None:
        raise HTTPException(403, detail="hub.verify_token: does not match")
    return PlainTextResponse(answer)


def _message_data(message: InboundMessage) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "from": message.wa_id,
        "profile_name": message.profile_name,
        "type": message.type,
        "text": message.text,
        "timestamp": message.timestamp,
        "phone_number_id": message.phone_number_id,
        "context_id": message.context_id,
        "content": message.content,
    }


def _status_data(status: StatusUpdate) -> dict[str, Any]:
    return {
        "message_id": status.id,
        "status": status.status,
        "recipient_id": status.recipient_id,
        "timestamp": status.timestamp,
        "phone_number_id": status.phone_number_id,
        "errors": [
            {"code": e.code, "title": e.title, "message": e.message, "details": e.details}
            for e in status.errors
        ],
    }


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, detail=f"body: larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, detail=f"body: larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{tenant_id}/webhook", response_model=WhatsAppAccepted, status_code=200)
async def receive_whatsapp(tenant_id: str, request: Request, session: Session) -> WhatsAppAccepted:
    raw = await _read_limited(request)
    credentials = await _credentials(session, tenant_id)
    secret = credentials.secrets["app_secret"] if credentials else _DECOY_SECRET
    signed = verify_signature(raw, request.headers.get(SIGNATURE_HEADER), secret)
    if not signed or credentials is None:
        raise HTTPException(403, detail=BAD_SIGNATURE)
    try:
        batch = parse_webhook(raw)
    except WhatsAppSignatureError as exc:
        raise HTTPException(400, detail=exc.message) from None
    ours = credentials.settings["phone_number_id"]
    found: list[tuple[str, str, dict[str, Any]]] = []
    for message in batch.messages:
        if message.phone_number_id == ours:
            key = f"{tenant_id}:{message.id}"
            found.append(("whatsapp.message.received", key, _message_data(message)))
    for status in batch.statuses:
        if status.phone_number_id == ours:
            key = f"{tenant_id}:{status.id}:{status.status}"
            found.append(("whatsapp.message.status", key, _status_data(status)))
    accepted = WhatsAppAccepted(events=[])
    for event_type, key, data in found:
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, key))
        try:
            await accept_event(request, tenant_id, event_type, data, "whatsapp", event_id)
        except IntegrityError:  # Meta redelivered it: the first one stands
            accepted.duplicates += 1
        accepted.events.append(event_id)
    return accepted
