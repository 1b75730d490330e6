"""Celery tasks that send notifications (queue ``notification``).

``send_notifications`` runs right after a request is accepted and for retries
due soon; ``sweep`` (on the beat) sends whatever else came due, so long
backoffs wait in the database rather than in the broker.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from automation.celery_app import celery_app, send
from automation.db import Database, utcnow
from automation.notifications.config import NotificationSettings
from automation.notifications.delivery import RETRYING, NotificationDispatcher
from automation.notifications.models import Notification
from automation.settings import Settings

TASK_SEND = "automation.notifications.send"
TASK_SWEEP = "automation.notifications.sweep"
BATCH = 100


def queue_for_priority(priority: str) -> str:
    """High and critical notifications skip the line on the ``critical`` queue."""
    return "critical" if priority in ("high", "critical") else "notification"


_local = threading.local()


def dispatcher_for(database: Database) -> NotificationDispatcher:
    cached: NotificationDispatcher | None = getattr(_local, "dispatcher", None)
    if cached is not None and cached.database is database:
        return cached
    dispatcher = NotificationDispatcher(database, NotificationSettings())
    _local.dispatcher = dispatcher
    return dispatcher


async def _retry_soon(dispatcher: NotificationDispatcher, ids: list[str]) -> None:
    horizon = timedelta(seconds=dispatcher.settings.notification_max_countdown_seconds)
    now = utcnow()
    async with dispatcher.database.session() as session:
        for notification_id in ids:
            row = await session.get(Notification, notification_id)
            if row is None or row.status != RETRYING or row.next_attempt_at is None:
                continue
            if row.next_attempt_at - now <= horizon:
                wait = max(0.0, (row.next_attempt_at - now).total_seconds())
                send(celery_app, TASK_SEND, [row.id], queue="notification", countdown=wait)


@celery_app.task(name=TASK_SEND, acks_late=True)
def send_notifications(ids: list[str]) -> int:
    from automation.worker_runtime import run

    async def work(database: Database, settings: Settings) -> int:
        dispatcher = dispatcher_for(database)
        statuses = await dispatcher.run_due(limit=len(ids) or 1, ids=ids)
        await _retry_soon(dispatcher, ids)
        return len(statuses)

    return run(work)


@celery_app.task(name=TASK_SWEEP, acks_late=True)
def sweep() -> int:
    from automation.worker_runtime import run

    async def work(database: Database, settings: Settings) -> int:
        dispatcher = dispatcher_for(database)
        total = 0
        for _ in range(10):
            statuses = await dispatcher.run_due(limit=BATCH)
            total += len(statuses)
            if len(statuses) < BATCH:
                break
        return total

    return run(work)
