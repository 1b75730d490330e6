"""Celery tasks. Import this module (the worker does) to register them.

Tasks take ids, never rows: each one loads its state from the database, so a
re-delivered message after a worker loss finds the truth, not a stale copy.
"""

from __future__ import annotations

import time
from typing import Any

from celery import signals

from automation.celery_app import celery_app, configure_celery
from automation.logs import request_id_var
from automation.metrics import TASK_LATENCY, TASKS
from automation.settings import get_settings

configure_celery(celery_app, get_settings())

# the delivery part's tasks (webhooks, notifications) register on the same app
import automation.notifications.tasks  # noqa: E402
import automation.webhooks.tasks  # noqa: E402, F401

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


__all__ = ["celery_app"]
