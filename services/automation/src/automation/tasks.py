"""Celery tasks. Import this module (the worker does) to register them.

Tasks take ids, never rows: each one loads its state from the database, so a
re-delivered message after a worker loss finds the truth, not a stale copy.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from celery import Task, signals

from automation import dbfaults, scheduler, worker_runtime
from automation.celery_app import (
    TASK_PROCESS_EVENT,
    TASK_RUN_EXECUTION,
    TASK_SCHEDULER_TICK,
    celery_app,
    configure_celery,
)
from automation.celery_app import send as celery_send
from automation.db import Database
from automation.logs import configure_logging, request_id_var
from automation.metrics import TASK_LATENCY, TASKS
from automation.rules import engine as rules_engine
from automation.settings import Settings, get_settings
from automation.workflows.engine import ExecutionRunner

configure_celery(celery_app, get_settings())

# the delivery part's tasks (webhooks, notifications) register on the same app
import automation.notifications.tasks  # noqa: E402
import automation.webhooks.tasks  # noqa: E402, F401

T = TypeVar("T")

_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request_id = getattr(task.request, "request_id", None) if task is not None else None
    if request_id is None and task is not None:
        request_id = (task.request.headers or {}).get("request_id")
    request_id_var.set(request_id)
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    name = getattr(task, "name", "unknown")
    TASKS.labels(name, (state or "unknown").lower()).inc()
    if task_id and task_id in _started:
        TASK_LATENCY.labels(name).observe(time.perf_counter() - _started.pop(task_id))
    request_id_var.set(None)


log = logging.getLogger(__name__)


def send(name: str, args: tuple[Any, ...], queue: str | None, countdown: float | None) -> None:
    """The engine's way to queue follow-up work, carrying the request id."""
    celery_send(celery_app, name, *args, queue=queue, countdown=countdown)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# A task whose database is down retries (1, 2, 4 ... 30 s apart) for about a day:
# its message is never acked before the work it carries has run.
OUTAGE_RETRIES = 3000


def run_retrying(task: Task, work: Callable[[Database, Settings], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on the worker's loop; a database outage retries the task later
    (a new message, sent before this one is acked) instead of failing it."""
    try:
        return worker_runtime.run(work)
    except Exception as exc:
        if not dbfaults.is_connection_error(exc):
            raise
        log.warning("%s: database unavailable (%s: %s); retrying", task.name,
                    type(exc).__name__, str(exc)[:200])  # fmt: skip
        raise task.retry(
            exc=exc,
            countdown=dbfaults.retry_countdown(task.request.retries),
            max_retries=OUTAGE_RETRIES,
        ) from exc


@celery_app.task(name=TASK_RUN_EXECUTION, bind=True, acks_late=True, reject_on_worker_lost=True)
def run_execution(self: Task, execution_id: str) -> str | None:
    """Advance one workflow execution as far as it can go now."""

    async def work(database: Database, settings: Settings) -> str | None:
        runner = ExecutionRunner(database, settings, send, _owner())
        result = await runner.run(execution_id)
        if result.event_id is not None:
            # The run's completion event is evaluated right here (no broker hop);
            # if that fails, the event task retries it, and the scheduler tick
            # re-queues any event left unprocessed.
            try:
                await rules_engine.process_event(database, settings, send, result.event_id)
            except Exception:
                log.exception("evaluating event %s failed; queueing it", result.event_id)
                send(TASK_PROCESS_EVENT, (result.event_id,), "automation", None)
        return result.status if result.claimed else None

    return run_retrying(self, work)


@celery_app.task(name=TASK_PROCESS_EVENT, bind=True, acks_late=True, reject_on_worker_lost=True)
def process_event(self: Task, event_id: str) -> int:
    """Evaluate an event against the tenant's rules and event-triggered workflows."""

    async def work(database: Database, settings: Settings) -> int:
        return await rules_engine.process_event(database, settings, send, event_id)

    return run_retrying(self, work)


@celery_app.task(name=TASK_SCHEDULER_TICK, acks_late=True)
def scheduler_tick() -> dict[str, int]:
    """Start due cron workflows and rules; resume due or orphaned executions."""

    async def work(database: Database, settings: Settings) -> dict[str, int]:
        report = await scheduler.tick(database, settings, send)
        return {
            "started": len(report.started),
            "rules_fired": len(report.rules_fired),
            "resent": len(report.resent),
        }

    return worker_runtime.run(work)


@signals.worker_ready.connect
def _recover_on_start(**_: Any) -> None:
    # A worker that starts after a crash looks for orphaned work straight away.
    celery_app.send_task(TASK_SCHEDULER_TICK, queue="critical")


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Our handlers instead of Celery's, so worker lines carry the request id.
    configure_logging(json_lines=get_settings().env != "development")


__all__ = ["celery_app", "process_event", "run_execution", "scheduler_tick"]
