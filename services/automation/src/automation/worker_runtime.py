"""Running the async core from Celery's synchronous tasks.

Each worker thread keeps one event loop and one database engine for its life
(engines and their pools are bound to the loop that created them), so a task
costs a coroutine run, not a new connection pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from automation.db import Database
from automation.settings import Settings, get_settings

T = TypeVar("T")

_local = threading.local()


class _ThreadRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.database = Database(
            settings.effective_database_url,
            pool_size=max(2, settings.database_pool_size // 2),
            max_overflow=settings.database_max_overflow,
        )


def _thread_runtime() -> _ThreadRuntime:
    runtime: _ThreadRuntime | None = getattr(_local, "runtime", None)
    if runtime is None:
        runtime = _ThreadRuntime(get_settings())
        _local.runtime = runtime
    return runtime


def run(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    """Run ``work(database, settings)`` on this thread's loop and return its result."""
    runtime = _thread_runtime()
    return runtime.loop.run_until_complete(work(runtime.database, runtime.settings))
