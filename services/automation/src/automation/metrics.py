"""Prometheus figures: HTTP in this process, plus task, workflow, rule, webhook
attempt and notification figures read from the database (so they cover every
worker process, wherever the Celery workers run).

The database figures are gauges (row counts and summed durations by status);
they only grow while rows are kept, so a scraper can turn the increase between
two scrapes into a rate or a mean latency (a retention prune makes them drop).

The database figures are aggregates over whole tables, so they are computed at
most once per ``METRICS_CACHE_SECONDS`` and shared by every scrape in between
(concurrent scrapes wait for one computation instead of each running their own).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from automation.db import Database
from automation.models import RuleExecution, StepRun, WorkflowExecution
from automation.notifications.models import Notification
from automation.webhooks.models import WebhookAttempt

HTTP_REQUESTS = Counter(
    "automation_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "automation_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
TASKS = Counter(
    "automation_celery_tasks_total", "Celery tasks run in this process", ["task", "outcome"]
)
TASK_LATENCY = Histogram(
    "automation_celery_task_duration_seconds", "Celery task run time in this process", ["task"]
)
EVENTS_ACCEPTED = Counter("automation_events_accepted_total", "Events accepted by the API")


def seconds_between(start: Any, end: Any, sqlite: bool) -> ColumnElement[Any]:
    """SQL for ``end - start`` in seconds (NULL when either is NULL)."""
    if sqlite:
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


async def database_gauges(database: Database) -> bytes:
    """The database-wide gauges, freshly aggregated (one query per table)."""
    gauges = CollectorRegistry()
    executions = Gauge(
        "automation_workflow_executions",
        "Workflow executions by status",
        ["status"],
        registry=gauges,
    )
    steps = Gauge(
        "automation_workflow_step_runs",
        "Workflow step runs by type and status",
        ["type", "status"],
        registry=gauges,
    )
    step_attempts = Gauge(
        "automation_workflow_step_attempts",
        "Step attempts (task runs) by type",
        ["type"],
        registry=gauges,
    )
    execution_seconds = Gauge(
        "automation_workflow_execution_seconds",
        "Summed run time (started to finished) of workflow executions, by status",
        ["status"],
        registry=gauges,
    )
    webhook_attempts = Gauge(
        "automation_webhook_attempts",
        "Webhook delivery attempts, by verdict (delivered, retry, disable_endpoint)",
        ["verdict"],
        registry=gauges,
    )
    attempt_seconds = Gauge(
        "automation_webhook_attempt_seconds",
        "Summed duration of webhook delivery attempts, by verdict",
        ["verdict"],
        registry=gauges,
    )
    notifications = Gauge(
        "automation_notifications",
        "Notifications by channel and status",
        ["channel", "status"],
        registry=gauges,
    )
    notification_seconds = Gauge(
        "automation_notification_seconds",
        "Summed time from queued to sent of notifications, by channel and status",
        ["channel", "status"],
        registry=gauges,
    )
    rules = Gauge(
        "automation_rule_executions",
        "Rule evaluations by outcome",
        ["matched", "status"],
        registry=gauges,
    )
    sqlite = database.is_sqlite
    run_time = seconds_between(WorkflowExecution.started_at, WorkflowExecution.finished_at, sqlite)
    queued_to_sent = seconds_between(Notification.created_at, Notification.sent_at, sqlite)
    async with database.session() as session:
        for status, count, seconds in await session.execute(
            select(WorkflowExecution.status, func.count(), func.sum(run_time)).group_by(
                WorkflowExecution.status
            )
        ):
            executions.labels(status).set(count)
            execution_seconds.labels(status).set(float(seconds or 0))
        for verdict, count, millis in await session.execute(
            select(
                WebhookAttempt.verdict, func.count(), func.sum(WebhookAttempt.duration_ms)
            ).group_by(WebhookAttempt.verdict)
        ):
            webhook_attempts.labels(verdict).set(count)
            attempt_seconds.labels(verdict).set(float(millis or 0) / 1000)
        for channel, status, count, seconds in await session.execute(
            select(
                Notification.channel, Notification.status, func.count(), func.sum(queued_to_sent)
            ).group_by(Notification.channel, Notification.status)
        ):
            notifications.labels(channel, status).set(count)
            notification_seconds.labels(channel, status).set(float(seconds or 0))
        for type_, status, count, attempts in await session.execute(
            select(StepRun.type, StepRun.status, func.count(), func.sum(StepRun.attempts)).group_by(
                StepRun.type, StepRun.status
            )
        ):
            steps.labels(type_, status).set(count)
            step_attempts.labels(type_).inc(attempts or 0)
        for matched, status, count in await session.execute(
            select(RuleExecution.matched, RuleExecution.status, func.count()).group_by(
                RuleExecution.matched, RuleExecution.status
            )
        ):
            rules.labels(str(bool(matched)).lower(), status).set(count)
    return generate_latest(gauges)


class MetricsExporter:
    """Renders the exposition, reusing the database gauges for ``cache_seconds``."""

    def __init__(self, database: Database, cache_seconds: float) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._gauges: bytes | None = None
        self._computed_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bytes | None:
        if self._gauges is not None and time.monotonic() - self._computed_at < self.cache_seconds:
            return self._gauges
        return None

    async def gauges(self) -> bytes:
        if (cached := self._fresh()) is not None:
            return cached
        async with self._lock:  # one computation at a time; the waiters reuse it
            if (cached := self._fresh()) is not None:
                return cached
            self._gauges = await database_gauges(self.database)
            self._computed_at = time.monotonic()
            return self._gauges

    async def render(self) -> bytes:
        """The text exposition: this process's metrics and database-wide gauges."""
        return generate_latest() + await self.gauges()
