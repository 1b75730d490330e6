"""Measure how long functions take, sync or async, with one decorator.

    @timed()                      # logs "fetch took 12.3 ms" at DEBUG
    async def fetch(): ...

    @timed(on_done=stats.append)  # or hand the measurement to your own sink
    def parse(): ...

The measurement is taken even when the function raises.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

__all__ = ["Timing", "timed"]

P = ParamSpec("P")
R = TypeVar("R")

_log = logging.getLogger("common_core.timing")


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float
    ok: bool

    @property
    def milliseconds(self) -> float:
        return self.seconds * 1000


def _report(
    name: str, started: float, ok: bool, on_done: Callable[[Timing], Any] | None, level: int
) -> None:
    timing = Timing(name, time.perf_counter() - started, ok)
    if on_done is not None:
        on_done(timing)
    else:
        outcome = "took" if ok else "failed after"
        _log.log(level, "%s %s %.3f ms", name, outcome, timing.milliseconds)


@overload
def timed(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def timed(
    *, name: str | None = None, on_done: Callable[[Timing], Any] | None = None, level: int = ...
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def timed(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    on_done: Callable[[Timing], Any] | None = None,
    level: int = logging.DEBUG,
) -> Any:
    """Decorate a function or coroutine function; usable bare (``@timed``) or called."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        label = name or fn.__qualname__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                ok = False
                try:
                    result = await fn(*args, **kwargs)
                    ok = True
                    return result
                finally:
                    _report(label, started, ok, on_done, level)

            return async_wrapper

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            ok = False
            try:
                result = fn(*args, **kwargs)
                ok = True
                return result
            finally:
                _report(label, started, ok, on_done, level)

        return sync_wrapper

    return decorate(func) if func is not None else decorate
