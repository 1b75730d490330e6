"""Celery tasks that attempt webhook deliveries.

``deliver_message`` runs right after a message is accepted (and for retries
due within ``WEBHOOK_MAX_COUNTDOWN_SECONDS``); ``sweep`` runs on the beat and
attempts whatever came due since, so a wait of hours is a row in the
database, not a task sitting in the broker past its visibility timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from celery import Task

from automation.celery_app import TASK_PROCESS_EVENT, celery_app, send
from automation.db import Database, utcnow
from automation.delivery.ratelimit import DeliveryLimiter
from automation.models import Event
from automation.settings import Settings
from automation.webhooks.config import WebhookSettings
from automation.webhooks.delivery import (
    ENDPOINT_DISABLED_EVENT,
    PENDING,
    AttemptOutcome,
    DisabledHook,
    Dispatcher,
)
from automation.webhooks.models import WebhookEndpoint
from automation.webhooks.sender import WebhookSender

TASK_DELIVER = "automation.webhooks.deliver_message"
TASK_SWEEP = "automation.webhooks.sweep"
SWEEP_BATCH = 200
SWEEP_ROUNDS = 10

_local = threading.local()


def emit_disabled_event(database: Database, send_task: Callable[..., None]) -> DisabledHook:
    """A hook that records ``webhook.endpoint.disabled`` as an event rules can react to.

    ``send_task(name, *args, queue=...)`` queues the core's event processing.
    """

    async def emit(tenant_id: str, endpoint: WebhookEndpoint, reason: str) -> None:
        async with database.session() as session:
            event = Event(
                tenant_id=tenant_id, type=ENDPOINT_DISABLED_EVENT, source="webhooks",
                data={"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason},
            )  # fmt: skip
            session.add(event)
            await session.commit()
            event_id = event.id
        send_task(TASK_PROCESS_EVENT, event_id, queue="automation")

    return emit


def _send(name: str, *args: Any, queue: str | None = None) -> None:
    send(celery_app, name, *args, queue=queue)


def dispatcher_for(database: Database, settings: Settings) -> Dispatcher:
    """One dispatcher per worker thread (its HTTP pool lives on that thread's loop)."""
    cached: Dispatcher | None = getattr(_local, "dispatcher", None)
    if cached is not None and cached.database is database:
        return cached
    hooks = WebhookSettings()
    limiter = DeliveryLimiter(
        settings.effective_rate_limit_storage, prefix=f"{settings.celery_key_prefix}webhook"
    )

    async def gate(endpoint: WebhookEndpoint) -> float | None:
        return await limiter.per_second(endpoint.rate_limit, endpoint.id)

    dispatcher = Dispatcher(
        database,
        WebhookSender(hooks.address_policy(), timeout=hooks.timeout_seconds,
                      max_connections=hooks.max_connections),
        hooks,
        on_endpoint_disabled=emit_disabled_event(database, _send),
        rate_gate=gate, on_drain=drain_soon,
    )  # fmt: skip
    _local.dispatcher = dispatcher
    return dispatcher


async def drain_soon(endpoint_id: str) -> None:
    """An endpoint's circuit closed: attempt its backlog now, not at the next sweep."""
    send(celery_app, TASK_DELIVER, None, None, endpoint_id, queue="webhook")


def schedule_soon(outcomes: Sequence[AttemptOutcome], settings: WebhookSettings) -> None:
    """Retries due within the countdown limit get a task now; later ones wait for the sweep."""
    now = utcnow()
    for outcome in outcomes:
        due: datetime | None = outcome.next_attempt_at
        if outcome.status != PENDING or due is None:
            continue
        wait = max(0.0, (due - now).total_seconds())
        if wait <= settings.max_countdown_seconds:
            send(celery_app, TASK_DELIVER, None, [outcome.delivery_id], queue="webhook",
                 countdown=wait)  # fmt: skip


@celery_app.task(name=TASK_DELIVER, bind=True, acks_late=True, reject_on_worker_lost=True)
def deliver_message(
    self: Task,
    message_id: str | None = None,
    delivery_ids: list[str] | None = None,
    endpoint_id: str | None = None,
) -> int:
    """Attempt what is due of one message, some deliveries, or (after its circuit
    closed) one endpoint's whole backlog, oldest first."""
    from automation.tasks import run_retrying

    async def work(database: Database, settings: Settings) -> int:
        dispatcher = dispatcher_for(database, settings)
        total = 0
        for _ in range(SWEEP_ROUNDS if endpoint_id else 1):
            outcomes = await dispatcher.run_due(limit=SWEEP_BATCH, message_id=message_id,
                                                delivery_ids=delivery_ids,
                                                endpoint_id=endpoint_id)  # fmt: skip
            schedule_soon(outcomes, dispatcher.settings)
            total += len(outcomes)
            if len(outcomes) < SWEEP_BATCH:
                break
        return total

    return run_retrying(self, work)


@celery_app.task(name=TASK_SWEEP, acks_late=True)
def sweep() -> int:
    from automation.worker_runtime import run

    async def work(database: Database, settings: Settings) -> int:
        dispatcher = dispatcher_for(database, settings)
        total = 0
        for _ in range(SWEEP_ROUNDS):
            outcomes = await dispatcher.run_due(limit=SWEEP_BATCH)
            schedule_soon(outcomes, dispatcher.settings)
            total += len(outcomes)
            if len(outcomes) < SWEEP_BATCH:
                break
        return total

    return run(work)
