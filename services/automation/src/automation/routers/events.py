"""``/api/v1/events``: submit events (rules and event-triggered workflows react in
the background) and read them back with the rule executions they caused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from automation.auth import EventsRead, EventsWrite
from automation.celery_app import TASK_PROCESS_EVENT
from automation.db import utcnow
from automation.metrics import EVENTS_ACCEPTED
from automation.models import Event, RuleExecution, new_id
from automation.routers.common import get_owned, runtime_of, session_dependency
from automation.routers.rules import rule_execution_out
from automation.rules.schemas import RuleExecutionOut

router = APIRouter(prefix="/events", tags=["events"])

Session = Annotated[AsyncSession, Depends(session_dependency)]
EVENT_TYPE = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$"
MAX_EVENT_BYTES = 256 * 1024
_EVENTS = cast(Table, Event.__table__)
_EVENT_COLUMNS = list(_EVENTS.columns)
_INSERT_EVENT = insert(_EVENTS)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(
        pattern=EVENT_TYPE,
        validation_alias=AliasChoices("event_type", "type"),
        description="e.g. user.created",
    )
    data: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(default="api", min_length=1, max_length=200)


class EventOut(BaseModel):
    id: str
    event_type: str
    source: str
    data: dict[str, Any]
    status: str
    created_at: datetime
    processed_at: datetime | None
    rule_executions: list[RuleExecutionOut] = Field(default_factory=list)


class EventList(BaseModel):
    items: list[EventOut]
    total: int
    limit: int
    offset: int


def event_out(event: Event, rule_executions: list[RuleExecution] | None = None) -> EventOut:
    return EventOut(
        id=event.id,
        event_type=event.type,
        source=event.source,
        data=event.data,
        status=event.status,
        created_at=event.created_at,
        processed_at=event.processed_at,
        rule_executions=[rule_execution_out(r) for r in rule_executions or []],
    )


async def accept_event(
    request: Request,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    source: str,
    event_id: str | None = None,
) -> Event:
    """Store an event and queue its evaluation (shared by every inbound path)."""
    if len(json.dumps(data, default=str)) > MAX_EVENT_BYTES:
        raise HTTPException(413, detail=f"data: larger than {MAX_EVENT_BYTES} bytes")
    event = Event(
        id=event_id or new_id(),
        tenant_id=tenant_id,
        type=event_type,
        source=source,
        data=data,
        status="received",
        request_id=getattr(request.state, "request_id", None),
        created_at=utcnow(),
        processed_at=None,
    )
    # One INSERT that commits by itself: the API's busiest write skips the
    # session's BEGIN/flush/COMMIT round trips.
    values = {c.key: getattr(event, c.key) for c in _EVENT_COLUMNS}
    await runtime_of(request).database.execute_once(_INSERT_EVENT, values)
    runtime_of(request).send(TASK_PROCESS_EVENT, event.id, queue="automation")
    EVENTS_ACCEPTED.inc()
    return event


@router.post("", response_model=EventOut, status_code=202)
async def submit_event(body: EventIn, request: Request, principal: EventsWrite) -> EventOut:
    event = await accept_event(
        request, principal.tenant_id, body.event_type, body.data, body.source
    )
    return event_out(event)


SINCE_HELP = "ISO 8601: events created at or after this time (UTC when no offset is given)"
UNTIL_HELP = "ISO 8601: events created before this time (UTC when no offset is given)"


def _as_utc(value: datetime | None, field: str) -> datetime | None:
    """A time without an offset is read as UTC; one that has no UTC equivalent
    (year 1 east of Greenwich, year 9999 west of it) is refused on its field."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise RequestValidationError(
            [{"loc": ("query", field), "msg": "out of range in UTC", "type": "value_error"}]
        ) from None


@router.get("", response_model=EventList)
async def list_events(
    session: Session,
    principal: EventsRead,
    event_type: str | None = Query(default=None, max_length=200),
    since: Annotated[datetime | None, Query(description=SINCE_HELP)] = None,
    until: Annotated[datetime | None, Query(description=UNTIL_HELP)] = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> EventList:
    """Newest first. ``since``/``until`` bound ``created_at`` (half-open: since <= t < until);
    the (tenant_id, created_at) index serves the range and the order."""
    since, until = _as_utc(since, "since"), _as_utc(until, "until")
    if since is not None and until is not None and until < since:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "until"),
                    "msg": "must not be earlier than since",
                    "type": "value_error",
                }
            ]
        )
    where: list[Any] = [Event.tenant_id == principal.tenant_id]
    if event_type:
        where.append(Event.type == event_type)
    if since is not None:
        where.append(Event.created_at >= since)
    if until is not None:
        where.append(Event.created_at < until)
    total = (await session.execute(select(func.count()).where(*where))).scalar_one()
    rows = await session.execute(
        select(Event)
        .where(*where)
        .order_by(Event.created_at.desc(), Event.id)
        .limit(limit)
        .offset(offset)
    )
    return EventList(
        items=[event_out(e) for e in rows.scalars()], total=total, limit=limit, offset=offset
    )


@router.get("/{event_id}", response_model=EventOut)
async def get_event(event_id: str, session: Session, principal: EventsRead) -> EventOut:
    event = await get_owned(session, Event, event_id, principal.tenant_id, "event")
    rows = await session.execute(
        select(RuleExecution)
        .where(RuleExecution.event_id == event.id, RuleExecution.tenant_id == principal.tenant_id)
        .order_by(RuleExecution.created_at)
    )
    return event_out(event, list(rows.scalars()))
