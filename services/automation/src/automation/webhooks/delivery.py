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

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.db import Database, utcnow
from automation.delivery.leasing import claim_due
from automation.delivery.retry import RetrySchedule
from automation.webhooks import breaker
from automation.webhooks.breaker import BreakerPolicy
from automation.webhooks.config import WebhookSettings
from automation.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    new_id,
    new_message_id,
)
from automation.webhooks.responses import Verdict
from automation.webhooks.sender import AttemptResult, OutgoingWebhook, WebhookSender
from mimeia_telemetry import tracing

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
ENDPOINT_DISABLED_EVENT = "webhook.endpoint.disabled"

Clock = Callable[[], datetime]
# (tenant_id, endpoint, reason) -> emit the "endpoint disabled" event
DisabledHook = Callable[[str, WebhookEndpoint, str], Awaitable[None]]
# (endpoint) -> seconds to wait when the endpoint's rate limit is used up, else None
RateGate = Callable[[WebhookEndpoint], Awaitable[float | None]]
# (endpoint_id) -> attempt the endpoint's backlog now (its circuit just closed)
DrainHook = Callable[[str], Awaitable[None]]


@lru_cache(maxsize=1024)
def _pattern(filter_: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(filter_).replace(r"\*", ".*") + r"\Z")


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
    """Store a message and a due delivery for every enabled endpoint that wants it,
    with the current trace (every attempt of it runs there, see ``Dispatcher``)."""
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
    message = WebhookMessage(id=new_message_id(), tenant_id=tenant_id, event_type=event_type,
                             payload=payload, idempotency_key=idempotency_key,
                             traceparent=tracing.current_traceparent(),
                             created_at=when)  # fmt: skip
    deliveries = [
        WebhookDelivery(id=new_id(), tenant_id=tenant_id, message_id=message.id,
                        endpoint_id=e.id, status=PENDING, next_attempt_at=when, created_at=when)
        for e in endpoints
    ]  # fmt: skip
    try:
        # no relationship() orders the two INSERTs, so the message goes first explicitly
        session.add(message)
        await session.flush()
        session.add_all(deliveries)
        await session.commit()
    except IntegrityError:
        # another request with the same key won the race: answer with its message
        await session.rollback()
        if idempotency_key is None:
            raise
        earlier = await _by_idempotency_key(session, tenant_id, idempotency_key)
        if earlier is None:
            raise
        return earlier
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
    endpoint_id: str | None = None,
) -> list[str]:
    """Take the lease on due deliveries nobody holds, except those of endpoints
    whose circuit is open (see :mod:`automation.webhooks.breaker`); return the
    ids now ours."""
    conditions = [WebhookDelivery.status == PENDING, breaker.not_blocked(now)]
    if endpoint_id is not None:
        conditions.append(WebhookDelivery.endpoint_id == endpoint_id)
    if message_id is not None:
        conditions.append(WebhookDelivery.message_id == message_id)
    if delivery_ids is not None:
        conditions.append(WebhookDelivery.id.in_(list(delivery_ids)))
    if tenant_id is not None:
        conditions.append(WebhookDelivery.tenant_id == tenant_id)
    return await claim_due(session, WebhookDelivery, conditions, now=now, lease=lease,
                           limit=limit)  # fmt: skip


def breaker_outcome(result: AttemptResult) -> bool | None:
    """What an attempt says about the receiver being up: True (2xx), False (no
    answer, a timeout, 5xx, 408, 429) or None (it answered; the message is the
    problem)."""
    code = result.status_code
    if code is None:
        return False
    if 200 <= code < 300:
        return True
    if code >= 500 or code in (408, 429):
        return False
    return None


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: str
    status: str
    next_attempt_at: datetime | None
    result: AttemptResult | None = None
    endpoint_disabled: bool = False


class Dispatcher:
    """Attempts due deliveries in batches and writes down what happened.

    One batch costs a few statements whatever its size: claim, load (deliveries
    with their messages and endpoints in one query), the HTTP requests in
    parallel with no transaction open, then one transaction that inserts every
    attempt and updates every delivery.

    Each attempt runs in a ``webhook.attempt`` span resumed from the message's
    stored ``traceparent``: the first try and every retry (from the task or the
    sweep) sit in the trace of the request that created the message, and so does
    the POST's client span and the ``traceparent`` the receiver gets.
    """

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
        on_drain: DrainHook | None = None,
        concurrency: int = 50,
    ) -> None:
        self.database = database
        self.sender = sender
        self.settings = settings
        self.schedule = schedule or settings.schedule()
        self.clock = clock
        self.on_endpoint_disabled = on_endpoint_disabled
        self.rate_gate = rate_gate
        self.on_drain = on_drain
        self.breaker = settings.breaker()
        self._slots = asyncio.Semaphore(concurrency)

    async def run_due(
        self,
        *,
        limit: int = 100,
        message_id: str | None = None,
        delivery_ids: Sequence[str] | None = None,
        tenant_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> list[AttemptOutcome]:
        """Claim what is due (optionally of one message, tenant or endpoint) and
        attempt it."""
        async with self.database.session() as session:
            ids = await claim(session, self.clock(), self.settings.lease, limit=limit,
                              message_id=message_id, delivery_ids=delivery_ids,
                              tenant_id=tenant_id, endpoint_id=endpoint_id)  # fmt: skip
            if not ids:
                return []
            rows = (
                await session.execute(
                    select(WebhookDelivery, WebhookMessage, WebhookEndpoint)
                    .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id.in_(ids))
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
                )
            ).all()
            await session.commit()
        found = {d.id for d, _, _ in rows}
        batch = _Batch(self.clock, self.settings, self.schedule)
        for missing in set(ids) - found:  # deleted between claim and load
            batch.outcomes.append(AttemptOutcome(missing, FAILED, None))
        rows = await self._one_probe_per_open_circuit(rows, batch)
        sends: list[tuple[WebhookDelivery, WebhookEndpoint, OutgoingWebhook, str | None]] = []
        for delivery, message, endpoint in rows:
            batch.endpoints.setdefault(endpoint.id, _EndpointState(endpoint))
            if not endpoint.enabled:
                batch.give_up(delivery, "endpoint is disabled")
                continue
            wait = await self.rate_gate(endpoint) if self.rate_gate is not None else None
            if wait is not None:
                batch.postpone(delivery, wait)
                continue
            sends.append((delivery, endpoint, OutgoingWebhook(
                url=endpoint.url, msg_id=message.id, body=message_body(message),
                secrets=active_secrets(endpoint, self.clock()), headers=endpoint.headers or {},
                idempotency_key=delivery.id,
            ), message.traceparent))  # fmt: skip
        results = await asyncio.gather(*(self._send(d, w, tp) for d, _, w, tp in sends))
        for (delivery, endpoint, _, _), result in zip(sends, results, strict=True):
            batch.record(delivery, endpoint, result)
        async with self.database.session() as session:
            drained = await batch.write(session, self.breaker)
        if self.on_drain is not None:
            for endpoint_id_ in drained:
                await self.on_drain(endpoint_id_)
        if self.on_endpoint_disabled is not None:
            for state in batch.endpoints.values():
                if state.disabled_reason:
                    await self.on_endpoint_disabled(
                        state.endpoint.tenant_id, state.endpoint, state.disabled_reason
                    )
        return batch.outcomes

    async def _one_probe_per_open_circuit(self, rows: Sequence[Any], batch: _Batch) -> list[Any]:
        """Rows of endpoints whose circuit is open came to us because their probe is
        due: the oldest one is the probe (if this worker wins it), the rest go back
        untouched, without spending an attempt."""
        kept: list[Any] = []
        probing: dict[str, bool] = {}
        for row in rows:
            delivery, _, endpoint = row
            if endpoint.circuit_open_until is None:
                kept.append(row)
                continue
            if endpoint.id not in probing:
                async with self.database.session() as session:
                    probing[endpoint.id] = await breaker.take_probe(
                        session, endpoint.id, self.clock(), self.breaker
                    )
                    await session.commit()
                if probing[endpoint.id]:
                    kept.append(row)
                    continue
            batch.release(delivery)
        return kept

    async def _send(
        self, delivery: WebhookDelivery, webhook: OutgoingWebhook, traceparent: str | None
    ) -> AttemptResult:
        async with self._slots:
            attributes = {"webhook.message_id": webhook.msg_id, "webhook.delivery_id": delivery.id,
                          "webhook.endpoint_id": delivery.endpoint_id}  # fmt: skip
            with tracing.resume(traceparent, "webhook.attempt", attributes=attributes,
                                attempt=delivery.attempts + 1) as current:  # fmt: skip
                result = await self.sender.send(webhook)
                if current is not None:
                    current.set_attribute("webhook.verdict", result.classification.verdict.value)
                    if result.status_code is not None:
                        tracing.set_http_status(current, result.status_code)
                return result


class _EndpointState:
    """An endpoint's health as this batch's results change it."""

    def __init__(self, endpoint: WebhookEndpoint) -> None:
        self.endpoint = endpoint
        self.failing_since = endpoint.failing_since
        self.enabled = endpoint.enabled
        self.disabled_reason: str | None = None
        # this batch's attempts that tell whether the receiver is up, for the breaker
        self.successes = 0
        self.failures = 0

    @property
    def changed(self) -> bool:
        e = self.endpoint
        return self.failing_since != e.failing_since or self.enabled != e.enabled


class _Batch:
    """The rows one batch of attempts writes, computed without I/O."""

    def __init__(self, clock: Clock, settings: WebhookSettings, schedule: RetrySchedule) -> None:
        self.clock = clock
        self.settings = settings
        self.schedule = schedule
        self.outcomes: list[AttemptOutcome] = []
        self.attempts: list[WebhookAttempt] = []
        self.updates: list[dict[str, Any]] = []
        self.endpoints: dict[str, _EndpointState] = {}

    def give_up(self, delivery: WebhookDelivery, reason: str) -> None:
        now = self.clock()
        self.updates.append({"id": delivery.id, "status": FAILED, "next_attempt_at": None,
                             "finished_at": now, "last_error": reason,
                             "lease_until": None})  # fmt: skip
        self.outcomes.append(AttemptOutcome(delivery.id, FAILED, None))

    def release(self, delivery: WebhookDelivery) -> None:
        # held back by an open circuit: due as before, nothing spent
        self.updates.append({"id": delivery.id, "lease_until": None})
        self.outcomes.append(AttemptOutcome(delivery.id, PENDING, None))

    def postpone(self, delivery: WebhookDelivery, wait: float) -> None:
        # a rate-limited delivery waits without using up one of its attempts
        due = self.clock() + timedelta(seconds=wait)
        self.updates.append({"id": delivery.id, "next_attempt_at": due, "lease_until": None})
        self.outcomes.append(AttemptOutcome(delivery.id, PENDING, due))

    def record(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, result: AttemptResult
    ) -> None:
        now = self.clock()
        attempts = delivery.attempts + 1
        verdict = result.classification.verdict
        self.attempts.append(WebhookAttempt(
            tenant_id=delivery.tenant_id, delivery_id=delivery.id,
            message_id=delivery.message_id, endpoint_id=delivery.endpoint_id,
            attempt_number=attempts, status_code=result.status_code,
            duration_ms=result.duration_ms, response_snippet=result.response_snippet,
            error=result.error, verdict=verdict.value, created_at=now,
        ))  # fmt: skip
        update: dict[str, Any] = {
            "id": delivery.id, "attempts": attempts, "lease_until": None,
            "last_status_code": result.status_code,
            "last_error": result.error
            or (None if verdict is Verdict.DELIVERED else result.classification.reason),
        }  # fmt: skip
        state = self.endpoints[endpoint.id]
        health = breaker_outcome(result)
        if health is True:
            state.successes += 1
        elif health is False:
            state.failures += 1
        status, nxt = PENDING, None
        if verdict is Verdict.DELIVERED:
            status = SUCCEEDED
            state.failing_since = None
        else:
            if state.failing_since is None:
                state.failing_since = now
            reason = None
            if verdict is Verdict.DISABLE_ENDPOINT:
                reason = "the receiver answered 410 Gone"
            elif now - state.failing_since >= self.settings.disable_after:
                reason = f"failing without a success since {state.failing_since.isoformat()}"
            if reason and state.enabled:
                state.enabled, state.disabled_reason = False, reason
            if reason is None:
                retry_after = result.classification.retry_after
                nxt = self.schedule.next_attempt_at(attempts, now, retry_after=retry_after)
            if nxt is None:
                status = FAILED
        update["status"], update["next_attempt_at"] = status, nxt
        update["finished_at"] = now if status != PENDING else None
        self.updates.append(update)
        self.outcomes.append(AttemptOutcome(delivery.id, status, nxt, result,
                                            endpoint_disabled=state.disabled_reason is not None
                                            and verdict is not Verdict.DELIVERED))  # fmt: skip

    async def write(self, session: AsyncSession, policy: BreakerPolicy) -> list[str]:
        """Write the batch; return the endpoints whose circuit just closed (their
        backlog is due now and should be drained)."""
        drained: list[str] = []
        session.add_all(self.attempts)
        if self.updates:
            for update_row in self.updates:
                update_row["updated_at"] = self.clock()
            await session.execute(update(WebhookDelivery), self.updates)
        for state in self.endpoints.values():
            if state.changed:
                values: dict[str, Any] = {"failing_since": state.failing_since,
                                          "enabled": state.enabled}  # fmt: skip
                if state.disabled_reason:
                    values["disabled_reason"] = state.disabled_reason
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == state.endpoint.id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            if await breaker.record(session, state.endpoint.id, successes=state.successes,
                                    failures=state.failures, now=self.clock(),
                                    policy=policy):  # fmt: skip
                drained.append(state.endpoint.id)
        await session.commit()
        return drained


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
