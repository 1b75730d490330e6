"""Receive Wompi events in FastAPI/Starlette: verify and parse in one call.

>>> from fastapi import Depends, FastAPI
>>> from mimeiapify.wompi.webhook import WompiEvent, WompiWebhook
>>> app = FastAPI()
>>> @app.post("/wompi")
... async def on_event(event: WompiEvent = Depends(WompiWebhook("prod_events_..."))):
...     return {"ok": event.transaction["status"]}

:func:`verify_wompi_request` raises :class:`~mimeiapify.errors.WompiSignatureError`;
:class:`WompiWebhook` (a FastAPI dependency) turns that into an HTTP 400.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from mimeiapify.errors import WompiSignatureError
from mimeiapify.wompi.protocol import event_age_problem, event_problem, verify_event

MAX_EVENT_BYTES = 1024 * 1024
CHECKSUM_HEADER = "X-Event-Checksum"


class EventSignature(BaseModel):
    properties: list[str]
    checksum: str


class WompiEvent(BaseModel):
    """A verified Wompi event."""

    model_config = ConfigDict(extra="allow")

    event: str
    data: dict[str, Any]
    environment: str
    signature: EventSignature
    timestamp: int
    sent_at: str | None = None

    @property
    def transaction(self) -> dict[str, Any] | None:
        found = self.data.get("transaction")
        return found if isinstance(found, dict) else None


def parse_event(
    raw: bytes,
    events_secret: str,
    checksum_header: str | None = None,
    *,
    max_age_seconds: float | None = None,
) -> WompiEvent:
    """Verify ``raw`` (the request body) and return the event, or raise.

    With ``max_age_seconds`` an authentic but old event (its signed
    ``timestamp`` further in the past than that) is refused too, so a captured
    event cannot be replayed later.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise WompiSignatureError("event body is too large", status=413)
    try:
        payload = json.loads(raw)
    except ValueError:
        raise WompiSignatureError("event body is not JSON", status=400) from None
    if not isinstance(payload, dict):
        raise WompiSignatureError("event body is not a JSON object", status=400)
    problem = event_problem(payload)
    if problem is not None:
        raise WompiSignatureError(problem, status=400)
    if not verify_event(payload, events_secret, checksum_header):
        raise WompiSignatureError("event checksum does not match", status=400)
    try:
        event = WompiEvent.model_validate(payload)
    except ValidationError as exc:
        raise WompiSignatureError(f"event is malformed: {exc.errors()[0]['loc']}",
                                  status=400) from None  # fmt: skip
    problem = event_age_problem(payload, max_age_seconds)
    if problem is not None:
        raise WompiSignatureError(problem, status=400)
    return event


async def verify_wompi_request(
    request: Request,
    events_secret: str,
    *,
    use_header: bool = True,
    max_age_seconds: float | None = None,
) -> WompiEvent:
    """Read, verify and parse a Wompi event from a Starlette/FastAPI request.

    The body's ``signature.checksum`` is checked; when the request carries an
    ``X-Event-Checksum`` header (and ``use_header``), that value must match too.
    """
    raw = await request.body()
    event = parse_event(raw, events_secret, max_age_seconds=max_age_seconds)
    header = request.headers.get(CHECKSUM_HEADER) if use_header else None
    if header is not None and not verify_event(json.loads(raw), events_secret, header):
        raise WompiSignatureError("X-Event-Checksum header does not match", status=400)
    return event


class WompiWebhook:
    """A FastAPI dependency: ``event: WompiEvent = Depends(WompiWebhook(secret))``.

    A bad event becomes HTTP 400 (413 when too large) and never reaches the handler.
    """

    def __init__(self, events_secret: str, *, max_age_seconds: float | None = None) -> None:
        if not isinstance(events_secret, str) or not events_secret:
            raise ValueError("events_secret must be a non-empty string")
        self._events_secret = events_secret
        self._max_age_seconds = max_age_seconds

    def __repr__(self) -> str:
        return "WompiWebhook(events_secret=<hidden>)"

    async def __call__(self, request: Request) -> WompiEvent:
        try:
            return await verify_wompi_request(
                request, self._events_secret, max_age_seconds=self._max_age_seconds
            )
        except WompiSignatureError as exc:
            raise HTTPException(status_code=exc.status or 400, detail=exc.message) from None
