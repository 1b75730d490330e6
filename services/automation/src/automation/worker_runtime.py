"""Running the async core from Celery's synchronous tasks.

Each worker process keeps one event loop, in a thread of its own, and one
database engine bound to it. A task hands its coroutine to that loop and waits
for the result, so the pool's threads only block on a future while every
database round trip of every running task shares the one loop. (One loop per
pool thread made the threads fight over the GIL after each round trip; here
only the loop thread needs it.)

The loop is made on first use in the process that uses it, so a prefork child
gets its own, never one copied from its parent.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from automation.db import Database
from automation.eventloop import new_event_loop
from automation.settings import Settings, get_settings

T = TypeVar("T")


class _ProcessRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pid = os.getpid()
        self.loop = new_event_loop()
        self.database = Database(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        self.thread = threading.Thread(target=self._serve, name="automation-task-loop", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()


_lock = threading.Lock()
_runtime: _ProcessRuntime | None = None


def _process_runtime() -> _ProcessRuntime:
    global _runtime
    runtime = _runtime
    if runtime is None or runtime.pid != os.getpid():
        with _lock:
            if _runtime is None or _runtime.pid != os.getpid():
                _runtime = _ProcessRuntime(get_settings())
            runtime = _runtime
    return runtime


def run(work: Callable[[Database, Settings], Coroutine[Any, Any, T]]) -> T:
    """Run ``work(database, settings)`` on this process's task loop and return its
    result (or raise its exception) in the calling thread."""
    runtime = _process_runtime()
    if threading.current_thread() is runtime.thread:
        raise RuntimeError("worker_runtime.run() called from the task loop itself; await instead")

    coroutine = work(runtime.database, runtime.settings)
    return asyncio.run_coroutine_threadsafe(coroutine, runtime.loop).result()
