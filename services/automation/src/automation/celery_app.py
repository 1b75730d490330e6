"""The Celery application: queues, routing and reliability settings.

Queues: ``critical`` (urgent runs and the scheduler tick), ``workflow`` (workflow
executions), ``automation`` (event and rule evaluation), ``notification`` and
``webhook`` (delivery work registered by those parts of the service).

Reliability: tasks ack late and are requeued when a worker dies; every task is
idempotent (a workflow execution is claimed through a lease in the database, so
a duplicate delivery finds nothing to do). No task is sent with an ETA beyond
``max_countdown_seconds`` (well inside the broker's visibility timeout); longer
waits are rows in the database that the scheduler tick picks up when due.

Without CELERY_BROKER_URL the broker is a SQLite file through kombu's SQLAlchemy
transport: no Redis needed, still asynchronous, still acked late and retried.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from automation.logs import request_id_var
from automation.settings import Settings
from mimeia_telemetry.celery import instrument_celery

QUEUES = ("critical", "workflow", "automation", "notification", "webhook")

TASK_RUN_EXECUTION = "automation.run_execution"
TASK_PROCESS_EVENT = "automation.process_event"
TASK_SCHEDULER_TICK = "automation.scheduler_tick"

# Priority of a workflow run -> the queue it waits in.
PRIORITY_QUEUES = {
    "critical": "critical",
    "high": "critical",
    "normal": "workflow",
    "low": "workflow",
}


def queue_for(kind: str) -> str:
    """The queue a kind of work goes to (``notification``, ``webhook``, ...)."""
    if kind not in QUEUES:
        raise ValueError(f"unknown queue {kind!r}; one of {', '.join(QUEUES)}")
    return kind


def create_celery(settings: Settings) -> Celery:
    app = Celery("automation", set_as_current=False)
    configure_celery(app, settings)
    return app


def configure_celery(app: Celery, settings: Settings) -> None:
    broker = settings.effective_broker_url
    transport_options: dict[str, Any]
    if broker.startswith("sqla+"):
        # kombu hands these to SQLAlchemy's create_engine; a waiting writer
        # beats "database is locked" when the API and the worker share the file.
        transport_options = {"connect_args": {"timeout": 30}}
    else:
        transport_options = {"visibility_timeout": settings.celery_visibility_timeout}
        if broker.startswith("redis") and settings.celery_key_prefix:
            transport_options["global_keyprefix"] = settings.celery_key_prefix
    app.conf.update(
        broker_url=broker,
        result_backend=settings.celery_result_backend or None,
        task_ignore_result=not settings.celery_result_backend,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.celery_task_time_limit,
        task_soft_time_limit=max(1, settings.celery_task_time_limit - 30),
        task_always_eager=settings.celery_task_always_eager,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_default_queue="workflow",
        # Each queue has its own exchange and key; queues that shared the default
        # exchange and key would each receive a copy of every message.
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES
        ],
        task_default_exchange="workflow",
        task_default_routing_key="workflow",
        task_routes={
            TASK_RUN_EXECUTION: {"queue": "workflow"},
            TASK_PROCESS_EVENT: {"queue": "automation"},
            TASK_SCHEDULER_TICK: {"queue": "critical"},
            "automation.notifications.*": {"queue": "notification"},
            "automation.webhooks.*": {"queue": "webhook"},
        },
        beat_schedule={
            "scheduler-tick": {
                "task": TASK_SCHEDULER_TICK,
                "schedule": settings.scheduler_interval_seconds,
                "options": {"expires": settings.scheduler_interval_seconds * 2},
            },
            # delivery part: retries whose wait was too long for a broker countdown
            **{
                f"{kind}-sweep": {
                    "task": f"automation.{kind}.sweep",
                    "schedule": settings.scheduler_interval_seconds,
                    "options": {"expires": settings.scheduler_interval_seconds * 2},
                }
                for kind in ("webhooks", "notifications")
            },
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=settings.celery_task_events,
        task_send_sent_event=settings.celery_task_events,
    )


def send(
    app: Celery, name: str, *args: Any, queue: str | None = None, countdown: float | None = None
) -> None:
    """Send a task by name, carrying the current request id in its headers."""
    app.send_task(
        name,
        args=list(args),
        queue=queue,
        countdown=countdown,
        headers={"request_id": request_id_var.get()},
    )


# The app the worker's tasks register on; :mod:`automation.tasks` configures it
# from the settings in force when the worker imports it.
celery_app = Celery("automation", set_as_current=False)
# traceparent in every task message; the consumer span around each task (no-op when off)
instrument_celery()
