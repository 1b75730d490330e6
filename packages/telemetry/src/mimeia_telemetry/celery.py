"""Celery: ``traceparent`` travels in every task message's headers; each task runs in a
consumer span continuing it. ``instrument_celery()`` connects the signals once."""

from __future__ import annotations

from typing import Any

from mimeia_telemetry import tracing

__all__ = ["instrument_celery"]

_connected = False
_open: dict[str, tuple[Any, Any]] = {}


def _before_publish(
    sender: str | None = None,
    headers: dict[str, Any] | None = None,
    routing_key: str | None = None,
    **_: Any,
) -> None:
    if not tracing._on or headers is None:
        return
    name = headers.get("task") or sender or "task"
    attributes = {"messaging.system": "celery", "messaging.destination.name": routing_key}
    with tracing.span(f"publish {name}", kind="producer", attributes=attributes):
        carrier: dict[str, str] = {}
        tracing.inject(carrier)
    headers.update(carrier)


def _carrier(task: Any) -> dict[str, str]:
    request = getattr(task, "request", None)
    out: dict[str, str] = {}
    for key in ("traceparent", "tracestate"):
        value = getattr(request, key, None) or (getattr(request, "headers", None) or {}).get(key)
        if isinstance(value, str):
            out[key] = value
    return out


def _prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if not tracing._on or task_id is None or task is None:
        return
    attributes = {"messaging.system": "celery", "messaging.message.id": task_id}
    manager = tracing.span(
        f"run {task.name}", kind="consumer", attributes=attributes, parent=_carrier(task)
    )
    current = manager.__enter__()
    _open[task_id] = (manager, current)


def _postrun(task_id: str | None = None, state: str | None = None, **_: Any) -> None:
    entry = _open.pop(task_id or "", None)
    if entry is None:
        return
    manager, current = entry
    if current is not None and state:
        current.set_attribute("celery.state", state)
    manager.__exit__(None, None, None)


def _failure(task_id: str | None = None, exception: BaseException | None = None, **_: Any) -> None:
    entry = _open.get(task_id or "")
    if entry is not None and exception is not None:
        tracing.record_error(entry[1], exception)


def _child_init(**_: Any) -> None:
    tracing.configure_tracing()


def _child_shutdown(**_: Any) -> None:
    tracing.flush()


def instrument_celery() -> None:
    """Connect the signals once (worker, beat and any process that sends tasks); they do
    nothing while tracing is off. A forked pool child configures its own exporter."""
    global _connected
    if not _connected:
        from celery import signals

        signals.before_task_publish.connect(_before_publish, weak=False)
        signals.task_prerun.connect(_prerun, weak=False)
        signals.task_postrun.connect(_postrun, weak=False)
        signals.task_failure.connect(_failure, weak=False)
        signals.worker_process_init.connect(_child_init, weak=False)
        signals.worker_process_shutdown.connect(_child_shutdown, weak=False)
        signals.worker_shutdown.connect(_child_shutdown, weak=False)
        _connected = True
