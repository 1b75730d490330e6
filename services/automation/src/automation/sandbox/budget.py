"""What one render has used so far, checked by every hook of the sandbox.

A render opens a :class:`Budget` (:func:`budget_scope`) and the hooks the sandbox
runs (calls, operators, filters, ``~``, loop iterations, joined output) charge it
and check its deadline, so a render stops within one bounded operation of its
limit wherever it runs, on a render thread or on the loop.

:func:`time_limit` lets a caller (the engine, for a step's ``timeout_seconds``)
shorten the deadline of every render made inside it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from automation.sandbox.limits import DEFAULT_LIMITS, LimitExceeded, Limits, RenderTimeout

_SIZED = (list, tuple, dict, set, frozenset)


@dataclass
class Budget:
    limits: Limits
    deadline: float  # time.monotonic() value
    seconds: float  # how long the render was given, for the message
    iterations: int = 0
    work: int = 0
    output: int = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderTimeout(self.seconds)

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_loop_iterations:
            raise LimitExceeded(
                "loop_iterations",
                f"more than {self.limits.max_loop_iterations} loop iterations",
            )
        self.check_time()

    def charge(self, value: Any) -> Any:
        """Count a value an operation produced against the size and work limits."""
        size = sized(self.limits, value)
        if size:
            self.work += size
            if self.work > self.limits.max_work:
                raise LimitExceeded("work", f"produced more than {self.limits.max_work} characters")
        self.check_time()
        return value

    def emit(self, chars: int) -> None:
        """Count characters joined into output (any buffer, the final text included)."""
        self.output += chars
        if self.output > self.limits.max_output_chars:
            raise LimitExceeded(
                "output", f"renders to more than {self.limits.max_output_chars} characters"
            )


def sized(limits: Limits, value: Any) -> int:
    """The size of a produced value (0 for scalars); raise if one value is too big."""
    if isinstance(value, str | bytes):
        if len(value) > limits.max_string_chars:
            raise LimitExceeded(
                "string", f"a value longer than {limits.max_string_chars} characters"
            )
        return len(value)
    if isinstance(value, _SIZED):
        if len(value) > limits.max_items:
            raise LimitExceeded("items", f"a collection of more than {limits.max_items} items")
        return len(value)
    if isinstance(value, int) and value.bit_length() > limits.max_int_bits:
        raise LimitExceeded("int", f"an integer larger than {limits.max_int_bits} bits")
    return 0


_budget: ContextVar[Budget | None] = ContextVar("sandbox_budget", default=None)
_deadline: ContextVar[tuple[float, float] | None] = ContextVar("sandbox_deadline", default=None)


def current() -> Budget | None:
    return _budget.get()


def current_deadline() -> tuple[float, float] | None:
    """The (monotonic deadline, seconds) a caller set with :func:`time_limit`, if any."""
    return _deadline.get()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Renders started inside end by ``seconds`` from now (None: no change)."""
    if seconds is None:
        yield
        return
    wanted = (time.monotonic() + float(seconds), float(seconds))
    outer = _deadline.get()
    token = _deadline.set(wanted if outer is None or wanted[0] < outer[0] else outer)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def deadline_at(deadline: tuple[float, float] | None) -> Iterator[None]:
    """Carry a deadline taken with :func:`current_deadline` into another thread."""
    if deadline is None:
        yield
        return
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def budget_scope(limits: Limits = DEFAULT_LIMITS) -> Iterator[Budget]:
    """The budget of the render in progress, or a new one for a render starting now."""
    active = _budget.get()
    if active is not None:
        yield active
        return
    now = time.monotonic()
    deadline, seconds = now + limits.seconds, limits.seconds
    outer = _deadline.get()
    if outer is not None and outer[0] < deadline:
        deadline, seconds = outer
    token = _budget.set(Budget(limits, deadline, seconds))
    try:
        yield _budget.get()  # type: ignore[misc]
    finally:
        _budget.reset(token)


def iterate(iterable: Iterable[Any]) -> Iterator[Any]:
    """A loop's items, each one counted against the render's iteration limit."""
    budget = _budget.get()
    if budget is None:
        raise LimitExceeded("budget", "a template loop ran outside a bounded render")
    for item in iterable:
        budget.iterate()
        yield item
