"""Thread pools that carry context variables, and a bounded executor with back-pressure.

``ContextThreadPoolExecutor.submit`` runs the job inside a copy of the
submitter's :mod:`contextvars` context, so a tool running in a worker thread
sees the request's ``_current_ss`` (a plain ThreadPoolExecutor would not).

``BoundedExecutor`` has two overflow policies. ``"wait"`` (the default, as 1.4's
plain pools behaved): a job that finds every worker busy waits in line for one;
``submit`` never refuses. ``"refuse"``: at most ``max_workers + max_pending``
jobs are queued or running; when full, ``submit`` waits up to ``submit_timeout``
in other threads and raises :class:`~mimeiapify.symphony_ai.errors.ExecutorFullError`
at once on the event-loop thread (which must never block), naming the pool and
its limit; ``await run(...)`` waits for a slot without blocking the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, ParamSpec, TypeVar

from mimeiapify.symphony_ai.errors import ExecutorFullError

Overflow = Literal["wait", "refuse"]
P = ParamSpec("P")
T = TypeVar("T")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose jobs run in a copy of the submitter's context."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)  # type: ignore[arg-type]

    def queue_length(self) -> int:
        """Jobs waiting for a worker thread."""
        return self._work_queue.qsize()


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class BoundedExecutor(ContextThreadPoolExecutor):
    """A context-carrying pool that holds at most ``max_workers + max_pending`` jobs."""

    def __init__(
        self,
        max_workers: int,
        max_pending: int | None = None,
        thread_name_prefix: str = "",
        submit_timeout: float | None = 30.0,
        *,
        overflow: Overflow = "refuse",
        name: str | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers: must be >= 1, got {max_workers}")
        pending = max_workers * 4 if max_pending is None else max_pending
        if pending < 0:
            raise ValueError(f"max_pending: must be >= 0, got {pending}")
        if overflow not in ("wait", "refuse"):
            raise ValueError(f"overflow: expected 'wait' or 'refuse', got {overflow!r}")
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.overflow = overflow
        self.name = name or thread_name_prefix or "pool"
        self.capacity = max_workers + pending
        self.limit_text = f"{self.capacity} = {max_workers} workers + {pending} pending"
        self.submit_timeout = submit_timeout
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self._count = 0  # jobs queued or running

    def in_flight(self) -> int:
        """Jobs queued or running."""
        return self._count

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._count -= 1

    def _counted(self, future: Future[T]) -> Future[T]:
        with self._lock:
            self._count += 1
        future.add_done_callback(self._done)
        return future

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if not waiter.done():
                    # hand the slot straight to an async waiter
                    loop.call_soon_threadsafe(self._hand_over, waiter)
                    return
            self._slots.release()

    def _hand_over(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # the waiter gave up meanwhile: pass the slot on
            self._release_slot_only()
        else:
            waiter.set_result(None)

    def _submit_with_slot(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        try:
            future = self._counted(super().submit(fn, *args, **kwargs))
        except BaseException:
            self._release_slot_only()
            raise
        future.add_done_callback(self._release)
        return future

    def _full(self, detail: str) -> ExecutorFullError:
        return ExecutorFullError(
            f"{self.name} is full: {detail} (limit {self.limit_text}); raise max_pending or "
            "workers, or set pool_overflow='wait' to queue instead"
        )

    def _release_slot_only(self) -> None:
        self._release(Future())

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue a job. With ``overflow="refuse"``, when full: wait (never on the loop
        thread) or raise ExecutorFullError."""
        if self.overflow == "wait":
            return self._counted(super().submit(fn, *args, **kwargs))
        if _on_loop_thread():
            acquired = self._slots.acquire(blocking=False)
        else:
            acquired = self._slots.acquire(timeout=self.submit_timeout)
        if not acquired:
            raise self._full(f"{self.capacity} jobs queued or running")
        return self._submit_with_slot(fn, *args, **kwargs)

    async def run(
        self, fn: Callable[..., T], *args: Any, wait: float | None = None, **kwargs: Any
    ) -> T:
        """Run ``fn`` in the pool and await its result, waiting politely for a free slot."""
        if self.overflow == "wait":
            return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))
        if not self._slots.acquire(blocking=False):
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            with self._lock:
                # a slot may have been released between the failed acquire and here
                if self._slots.acquire(blocking=False):
                    waiter.set_result(None)
                else:
                    self._waiters.append((loop, waiter))
            try:
                await asyncio.wait_for(waiter, wait if wait is not None else self.submit_timeout)
            except TimeoutError:
                raise self._full("no free slot in time") from None
        return await asyncio.wrap_future(self._submit_with_slot(fn, *args, **kwargs))
