"""Logging set-up: JSON lines for machines, readable lines for people.

``configure_logging(json=True)`` installs a :class:`JsonFormatter` on the root
logger. Records can be decorated with fixed fields (service name, version) and
with per-call context (an org id, a request id) that flows through asyncio
tasks via :func:`log_context`. Values under keys that look secret (tokens,
passwords, authorization headers) are masked.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from common_core.serialization import json_default

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
_SECRET_WORDS = ("password", "secret", "token", "authorization", "api_key", "apikey", "cookie")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _mask(key: str, value: Any) -> Any:
    if any(word in key.lower() for word in _SECRET_WORDS):
        return "***"
    return value


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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _mask(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=_safe_default, ensure_ascii=False)


def _safe_default(value: Any) -> Any:
    try:
        return json_default(value)
    except TypeError:
        return repr(value)


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
