"""Messages to endpoints, and the loop that attempts the ones that are due.

A message fans out into one delivery row per matching endpoint. A delivery is
attempted by whoever claims it first (a conditional UPDATE sets its lease), so
duplicate task messages, a sweep and a task racing for the same row never send
twice at once. After each attempt the next one is written to the row as
``next_attempt_at``: waits live in the database, never in the broker.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.db import Database, utcnow
from automation.webhooks.config import WebhookSettings
from automation.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from automation.webhooks.responses import Classification, Verdict
from automation.webhooks.retry import RetrySchedule
from automation.webhooks.sender import AttemptResult, OutgoingWebhook, WebhookSender

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
ENDPOINT_DISABLED_EVENT = "webhook.endpoint.disabled"

Clock = Callable[[], datetime]
# (tenant_id, endpoint, reason) -> emit the "endpoint disabled" event
DisabledHook = Callable[[str, WebhookEndpoint, str], Awaitable[None]]
# (endpoint) -> seconds to wait when the endpoint's rate limit is used up, else None
RateGate = Callable[[WebhookEndpoint], Awaitable[float | None]]


@lru_cache(maxsize=1024)
def _pattern(filter_: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(filter_).replace(r"\*", ".*") + "$")


def event_matches(filters: Sequence[str], event_type: str) -> bool:
    """Exact types and ``*`` wildcards (``workflow.*``, ``*``); no filters means all."""
    return not filters or any(_pattern(f).match(event_type) for f in filters)


def message_body(message: WebhookMessage) -> bytes:
    """The signed body; built the same way on every attempt, so retries are identical."""
    envelope = {
        "id": message.id,
        "type": message.event_type,
        "timestamp": message.created_at.isoformat(),
        "data": message.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret first, then rotated-out ones that have not expired yet."""
    secrets = [endpoint.secret]
    for old in endpoint.previous_secrets or []:
        if datetime.fromisoformat(old["expires_at"]) > now:
            secrets.append(old["secret"])
    return secrets


@dataclass(frozen=True)
class NewMessage:
    message: WebhookMessage
    delivery_ids: list[str]
    created: bool  # False when the idempotency key named an earlier message


async def create_message(
    session: AsyncSession,
    tenant_id: str,
    event_type: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    endpoint_ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> NewMessage:
    """Store a message and a due delivery for every enabled endpoint that wants it."""
    if idempotency_key is not None:
        earlier = await _by_idempotency_key(session, tenant_id, idempotency_key)
        if earlier is not None:
            return earlier
    when = now or utcnow()
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True)
    )
    if endpoint_ids is not None:
        stmt = stmt.where(WebhookEndpoint.id.in_(list(endpoint_ids)))
    endpoints = [
        e for e in (await session.scalars(stmt)).all() if event_matches(e.event_types, event_type)
    ]
    message = WebhookMessage(tenant_id=tenant_id, event_type=event_type, payload=payload,
                             idempotency_key=idempotency_key, created_at=when)  # fmt: skip
    session.add(message)
    try:
        await session.flush()
    except IntegrityError:
        # another request with the same key won the race: answer with its message
        await session.rollback()
        assert idempotency_key is not None
        earlier = await _by_idempotency_key(session, tenant_id, idempotency_key)
        if earlier is None:
            raise
        return earlier
    deliveries = [
        WebhookDelivery(tenant_id=tenant_id, message_id=message.id, endpoint_id=e.id,
                        status=PENDING, next_attempt_at=when, created_at=when)
        for e in endpoints
    ]  # fmt: skip
    session.add_all(deliveries)
    await session.commit()
    return NewMessage(message, [d.id for d in deliveries], created=True)


async def _by_idempotency_key(session: AsyncSession, tenant_id: str, key: str) -> NewMessage | None:
    message = await session.scalar(
        select(WebhookMessage).where(
            WebhookMessage.tenant_id == tenant_id, WebhookMessage.idempotency_key == key
        )
    )
    if message is None:
        return None
    ids = await session.scalars(
        select(WebhookDelivery.id).where(WebhookDelivery.message_id == message.id)
    )
    return NewMessage(message, list(ids), created=False)


async def claim(
    session: AsyncSession,
    now: datetime,
    lease: timedelta,
    *,
    limit: int = 100,
    message_id: str | None = None,
    delivery_ids: Sequence[str] | None = None,
    tenant_id: str | None = None,
) -> list[str]:
    """Take the lease on due deliveries nobody holds; return the ids now ours."""
    due = [
        WebhookDelivery.status == PENDING,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
    ]
    if message_id is not None:
        due.append(WebhookDelivery.message_id == message_id)
    if delivery_ids is not None:
        due.append(WebhookDelivery.id.in_(list(delivery_ids)))
    if tenant_id is not None:
        due.append(WebhookDelivery.tenant_id == tenant_id)
    candidates = list(
        await session.scalars(
            select(WebhookDelivery.id)
            .where(*due)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        await session.commit()
        return []
    # the same conditions again: between the SELECT and here another worker may
    # have claimed a row (SQLite has no SKIP LOCKED); RETURNING tells us which we got
    claimed = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(candidates), *due)
        .values(lease_until=now + lease)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(claimed.scalars())
    await session.commit()
    return ids


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: str
    status: str
    next_attempt_at: datetime | None
    result: AttemptResult | None = None
    endpoint_disabled: bool = False


class Dispatcher:
    """Attempts claimed deliveries and writes down what happened."""

    def __init__(
        self,
        database: Database,
        sender: WebhookSender,
        settings: WebhookSettings,
        *,
        schedule: RetrySchedule | None = None,
        clock: Clock = utcnow,
        on_endpoint_disabled: DisabledHook | None = None,
        rate_gate: RateGate | None = None,
        concurrency: int = 50,
    ) -> None:
        self.database = database
        self.sender = sender
        self.settings = settings
        self.schedule = schedule or settings.schedule()
        self.clock = clock
        self.on_endpoint_disabled = on_endpoint_disabled
        self.rate_gate = rate_gate
        self._slots = asyncio.Semaphore(concurrency)

    async def run_due(
        self,
        *,
        limit: int = 100,
        message_id: str | None = None,
        delivery_ids: Sequence[str] | None = None,
        tenant_id: str | None = None,
    ) -> list[AttemptOutcome]:
        """Claim what is due (optionally of one message or tenant) and attempt it concurrently."""
        async with self.database.session() as session:
            ids = await claim(session, self.clock(), self.settings.lease, limit=limit,
                              message_id=message_id, delivery_ids=delivery_ids,
                              tenant_id=tenant_id)  # fmt: skip
        return list(await asyncio.gather(*(self._attempt_guarded(i) for i in ids)))

    async def _attempt_guarded(self, delivery_id: str) -> AttemptOutcome:
        async with self._slots:
            return await self.attempt(delivery_id)

    async def attempt(self, delivery_id: str) -> AttemptOutcome:
        """One attempt of a delivery this worker has claimed."""
        async with self.database.session() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return AttemptOutcome(delivery_id, FAILED, None)
            endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
            message = await session.get(WebhookMessage, delivery.message_id)
            if endpoint is None or message is None or not endpoint.enabled:
                return await self._give_up(session, delivery, "endpoint is disabled or gone")
            if self.rate_gate is not None:
                wait = await self.rate_gate(endpoint)
                if wait is not None:
                    return await self._postpone(session, delivery, wait)
            webhook = OutgoingWebhook(
                url=endpoint.url,
                msg_id=message.id,
                body=message_body(message),
                secrets=active_secrets(endpoint, self.clock()),
                headers=endpoint.headers or {},
            )
            # the row stays leased while the request is in flight; no transaction is held
            await session.commit()
            result = await self.sender.send(webhook)
            return await self._record(session, delivery, endpoint, result)

    async def _record(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        result: AttemptResult,
    ) -> AttemptOutcome:
        now = self.clock()
        delivery.attempts += 1
        verdict = result.classification.verdict
        session.add(WebhookAttempt(
            tenant_id=delivery.tenant_id, delivery_id=delivery.id,
            message_id=delivery.message_id, endpoint_id=delivery.endpoint_id,
            attempt_number=delivery.attempts, status_code=result.status_code,
            duration_ms=result.duration_ms, response_snippet=result.response_snippet,
            error=result.error, verdict=verdict.value, created_at=now,
        ))  # fmt: skip
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error or (
            None if verdict is Verdict.DELIVERED else result.classification.reason
        )
        delivery.lease_until = None
        disabled_reason: str | None = None
        if verdict is Verdict.DELIVERED:
            delivery.status, delivery.next_attempt_at, delivery.finished_at = SUCCEEDED, None, now
            endpoint.failing_since = None
        else:
            if endpoint.failing_since is None:
                endpoint.failing_since = now
            if verdict is Verdict.DISABLE_ENDPOINT:
                disabled_reason = "the receiver answered 410 Gone"
            elif now - endpoint.failing_since >= self.settings.disable_after:
                disabled_reason = (
                    f"failing without a success since {endpoint.failing_since.isoformat()}"
                )
            nxt = None if disabled_reason else self._next(delivery.attempts, now,
                                                          result.classification)  # fmt: skip
            if nxt is None:
                delivery.status, delivery.next_attempt_at, delivery.finished_at = FAILED, None, now
            else:
                delivery.next_attempt_at = nxt
        if disabled_reason and endpoint.enabled:
            endpoint.enabled = False
            endpoint.disabled_reason = disabled_reason
        else:
            disabled_reason = None
        await session.commit()
        if disabled_reason and self.on_endpoint_disabled is not None:
            await self.on_endpoint_disabled(delivery.tenant_id, endpoint, disabled_reason)
        return AttemptOutcome(delivery.id, delivery.status, delivery.next_attempt_at, result,
                              endpoint_disabled=disabled_reason is not None)  # fmt: skip

    def _next(self, attempts_made: int, now: datetime, why: Classification) -> datetime | None:
        return self.schedule.next_attempt_at(attempts_made, now, retry_after=why.retry_after)

    async def _give_up(
        self, session: AsyncSession, delivery: WebhookDelivery, reason: str
    ) -> AttemptOutcome:
        now = self.clock()
        delivery.status, delivery.next_attempt_at, delivery.finished_at = FAILED, None, now
        delivery.last_error, delivery.lease_until = reason, None
        await session.commit()
        return AttemptOutcome(delivery.id, FAILED, None)

    async def _postpone(
        self, session: AsyncSession, delivery: WebhookDelivery, wait: float
    ) -> AttemptOutcome:
        # a rate-limited delivery waits without using up one of its attempts
        delivery.next_attempt_at = self.clock() + timedelta(seconds=wait)
        delivery.lease_until = None
        await session.commit()
        return AttemptOutcome(delivery.id, PENDING, delivery.next_attempt_at)


async def replay(
    session: AsyncSession,
    tenant_id: str,
    *,
    endpoint_id: str,
    message_id: str | None = None,
    failed_since: datetime | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Make deliveries due again with a fresh schedule; return their ids.

    One message (any status), or every failed delivery of the endpoint since a time.
    """
    when = now or utcnow()
    conditions = [WebhookDelivery.tenant_id == tenant_id,
                  WebhookDelivery.endpoint_id == endpoint_id]  # fmt: skip
    if message_id is not None:
        conditions.append(WebhookDelivery.message_id == message_id)
    else:
        conditions.append(WebhookDelivery.status == FAILED)
        if failed_since is not None:
            conditions.append(WebhookDelivery.created_at >= failed_since)
    ids = list(await session.scalars(select(WebhookDelivery.id).where(*conditions)))
    if ids:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(
                status=PENDING, attempts=0, next_attempt_at=when, lease_until=None, finished_at=None
            )
            .execution_options(synchronize_session=False)
        )
    await session.commit()
    return ids


async def due_soon(session: AsyncSession, now: datetime, within: timedelta) -> datetime | None:
    """When the next pending delivery is due, if within ``within`` (for countdowns)."""
    nxt = await session.scalar(
        select(WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.status == PENDING)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1)
    )
    return nxt if nxt is not None and nxt <= now + within else None
