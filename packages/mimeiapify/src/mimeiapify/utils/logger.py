"""The package logger and a one-call logging set-up.

``setup_logging`` installs handlers on the ``mimeiapify`` logger only (never the
root logger), so an application keeps control of its own logging. Calling it
again replaces the handlers it installed before instead of stacking them.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

LOGGER_NAME = "mimeiapify"
LOG_FILE_NAME = "mimeiapify.log"

logger = logging.getLogger(LOGGER_NAME)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)
_INSTALLED_FLAG = "_mimeiapify_installed"


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _console_handler(mode: str) -> logging.Handler:
    if mode == "DEV":
        from rich.logging import RichHandler

        return RichHandler(rich_tracebacks=True, show_path=False, log_time_format="[%X]")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    return handler


def setup_logging(
    level: str | int = "INFO",
    mode: Literal["DEV", "PROD"] = "DEV",
    log_dir: str | Path | None = None,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
) -> logging.Logger:
    """Configure the ``mimeiapify`` logger and return it.

    DEV prints with rich to the console; PROD prints JSON lines to stderr. With
    ``log_dir`` the same records also go, as JSON lines, to a size-rotated
    ``mimeiapify.log`` in that folder (created if missing).
    """
    mode_upper = str(mode).upper()
    if mode_upper not in ("DEV", "PROD"):
        raise ValueError(f"mode: expected 'DEV' or 'PROD', got {mode!r}")
    resolved = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(resolved, int):
        raise ValueError(f"level: unknown logging level {level!r}")

    for handler in list(logger.handlers):
        if getattr(handler, _INSTALLED_FLAG, False):
            logger.removeHandler(handler)
            handler.close()

    handlers = [_console_handler(mode_upper)]
    if log_dir is not None:
        folder = Path(log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            folder / LOG_FILE_NAME, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
        )
        file_handler.setFormatter(JsonLinesFormatter())
        handlers.append(file_handler)
    for handler in handlers:
        setattr(handler, _INSTALLED_FLAG, True)
        logger.addHandler(handler)
    logger.setLevel(resolved)
    logger.propagate = False
    return logger
