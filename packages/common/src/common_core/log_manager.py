"""Logging set-up: JSON lines for machines, readable lines for people.

``configure_logging(json=True)`` installs a :class:`JsonFormatter` on the root
logger. Records can be decorated with fixed fields (service name, version) and
with per-call context (an org id, a request id) that flows through asyncio
tasks via :func:`log_context`. The formatter is the platform's one
(``mimeia_telemetry.logfmt``): trace and request ids, and values under keys that
look secret (tokens, passwords, authorization headers) masked at any depth.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from mimeia_telemetry.logfmt import JsonFormatter

__all__ = [
    "ContextFilter",
    "JsonFormatter",
    "configure_logging",
    "get_logger",
    "log_context",
]

_CONTEXT: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "common_core_log_context", default=None
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (task-local)."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Decorates records with static fields and the current :func:`log_context`."""

    def __init__(self, static: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.static = dict(static or {})

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in {**self.static, **(_CONTEXT.get() or {})}.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def configure_logging(
    level: int | str = "INFO",
    *,
    json: bool = True,
    static_fields: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
    logger: logging.Logger | None = None,
) -> logging.Handler:
    """Install one handler on ``logger`` (the root logger by default) and return it.

    Calling it again replaces the handler it installed before, so it is safe in
    tests and in processes that re-configure.
    """
    target = logger or logging.getLogger()
    for handler in list(target.handlers):
        if getattr(handler, "_common_core", False):
            target.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._common_core = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(ContextFilter(static_fields))
    target.addHandler(handler)
    target.setLevel(level.upper() if isinstance(level, str) else level)
    return handler


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
