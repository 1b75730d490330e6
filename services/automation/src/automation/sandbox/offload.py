"""Renders off the event loop, on a small pool of threads of their own.

The API and the worker's task loop hand every render here, so a slow template
never holds the loop: ``/health`` and other tenants' work go on while it runs,
and the render itself stops at its deadline (see :mod:`automation.sandbox.budget`).
The pool is bounded (``RENDER_THREADS``); renders beyond it wait their turn.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

RENDER_THREADS = 2

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    pool = _pool
    if pool is None or pool[0] != os.getpid():  # a forked worker makes its own
        with _lock:
            if _pool is None or _pool[0] != os.getpid():
                executor = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="template")
                _pool = (os.getpid(), executor)
            pool = _pool
    return pool[1]


async def off_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` on a render thread, with this task's context
    (so a deadline set with :func:`~automation.sandbox.time_limit` applies)."""
    context = contextvars.copy_context()
    call = functools.partial(context.run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor(), call)
