"""Calling coroutines from worker threads: the sync-to-async bridge.

Tools of Agency-Swarm run synchronously in worker threads; the Redis
repositories are async and live on GlobalSymphony's event loop. ``run_sync``
submits the coroutine to that loop and waits for its result with a timeout.
It refuses to run on the loop's own thread (waiting there would deadlock) and
re-raises the coroutine's own exception in the caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from mimeiapify.symphony_ai.errors import BridgeError

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


def run_sync(
    coro: Coroutine[Any, Any, T],
    loop: asyncio.AbstractEventLoop | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> T:
    """Run ``coro`` on ``loop`` (default: GlobalSymphony's) from another thread; return its result.

    Raises ``TimeoutError`` (after cancelling the coroutine) when it takes longer than
    ``timeout`` seconds, :class:`BridgeError` when called on the loop's thread or when
    the loop is not running, and otherwise whatever the coroutine raised.
    """
    if not asyncio.iscoroutine(coro):
        raise TypeError(f"coro: expected a coroutine, got {type(coro).__name__}")
    if loop is None:
        from mimeiapify.symphony_ai.globals import GlobalSymphony

        try:
            loop = GlobalSymphony.get().loop
        except BaseException:
            coro.close()
            raise
    if _is_loop_thread(loop):
        coro.close()
        raise BridgeError(
            "run_sync was called on the event loop's own thread; waiting here would "
            "deadlock. Use `await` in async code, or run the sync code in a pool thread."
        )
    if loop.is_closed() or not loop.is_running():
        coro.close()
        raise BridgeError("the target event loop is not running (was GlobalSymphony shut down?)")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout)
    except TimeoutError:
        if future.done() and not future.cancelled():
            raise  # the coroutine's own TimeoutError
        future.cancel()
        raise TimeoutError(f"coroutine did not finish within {timeout} s") from None
    except concurrent.futures.CancelledError:
        raise BridgeError("the coroutine was cancelled (loop shutting down?)") from None


def _is_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        return True
    owner = getattr(loop, "_thread_id", None)  # set by BaseEventLoop while it runs
    return owner is not None and owner == threading.get_ident()
