"""The package logger and a one-call logging set-up.

``setup_logging`` configures the root logger as 1.4 did: a rich console handler
(``console_fmt``), plus in ``"DEV"`` mode with a ``log_dir`` a daily file
``app_logs_YYYYMMDD.log`` (``file_fmt``), replacing the root's handlers. Keyword
options keep it from reaching past what you want: ``logger_name="mimeiapify"``
configures only that logger, ``json_lines=True`` writes one JSON object per line
(for log collectors), ``replace_handlers=False`` removes only handlers an
earlier call installed, ``max_bytes`` rotates the file by size.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import datetime
from pathlib import Path

from mimeia_telemetry.logfmt import JsonFormatter

LOGGER_NAME = "mimeiapify"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CONSOLE_FORMAT = "[%(levelname)s] [%(name)s] • %(message)s"
FILE_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"

logger = logging.getLogger(LOGGER_NAME)

_INSTALLED_FLAG = "_mimeiapify_installed"

# The platform's one JSON formatter (trace ids, nested secret masking), under 1.5's name.
JsonLinesFormatter = JsonFormatter


def _resolve_level(level: str | int) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    name = str(level).upper()
    # as in 1.4, an unknown level name falls back to INFO
    return int(logging.getLevelName(name if name in LEVELS else "INFO"))


def _console_handler(fmt: str, json_lines: bool) -> logging.Handler:
    if json_lines:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLinesFormatter())
        return handler
    from rich.logging import RichHandler

    handler = RichHandler(rich_tracebacks=True, show_time=True, show_level=True, markup=False)
    handler.setFormatter(logging.Formatter(fmt))
    return handler


def setup_logging(
    level: str | int = "INFO",
    mode: str = "PROD",
    log_dir: str | Path | None = None,
    console_fmt: str | None = None,
    file_fmt: str | None = None,
    *,
    json_lines: bool = False,
    logger_name: str | None = None,
    replace_handlers: bool = True,
    max_bytes: int | None = None,
    backup_count: int = 5,
) -> logging.Logger:
    """Configure logging once at start-up (1.4's arguments); returns the logger set up.

    ``level``: DEBUG, INFO, WARNING or ERROR (anything else is INFO). ``mode``:
    ``"DEV"`` with ``log_dir`` also writes ``app_logs_YYYYMMDD.log`` there (the
    folder is created; ``max_bytes`` rotates it by size, keeping ``backup_count``
    old files); any other mode logs to the console only.
    """
    target = logging.getLogger(logger_name)  # None: the root logger, as in 1.4
    resolved = _resolve_level(level)
    for handler in list(target.handlers):
        if replace_handlers or getattr(handler, _INSTALLED_FLAG, False):
            target.removeHandler(handler)
            handler.close()

    handlers = [_console_handler(console_fmt or CONSOLE_FORMAT, json_lines)]
    logfile: Path | None = None
    if str(mode).upper() == "DEV" and log_dir:
        folder = Path(log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        logfile = folder / f"app_logs_{datetime.now():%Y%m%d}.log"
        file_handler: logging.FileHandler = (
            logging.handlers.RotatingFileHandler(
                logfile, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
            )
            if max_bytes
            else logging.FileHandler(logfile, encoding="utf-8")
        )
        file_handler.setFormatter(
            JsonLinesFormatter() if json_lines else logging.Formatter(file_fmt or FILE_FORMAT)
        )
        handlers.append(file_handler)
    for handler in handlers:
        setattr(handler, _INSTALLED_FLAG, True)
        target.addHandler(handler)
    target.setLevel(resolved)
    if logger_name is not None:
        target.propagate = False  # its records are handled here, not again at the root
    target.info(
        "logging configured (%s, mode %s%s)",
        logging.getLevelName(resolved),
        mode,
        f", file {logfile}" if logfile else "",
    )
    return target
