"""Jinja's built-in filters, each counted against the render's budget.

Every filter checks the deadline and has its result measured; the ones that can
make something much bigger than their input (``center``, ``indent``,
``wordwrap``, ``replace``, ``join``, ``format``, ``batch``, ``slice``, ``sum``,
``tojson``, ``urlize``) are checked before they run.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from jinja2.filters import make_attrgetter

from automation.sandbox import guards
from automation.sandbox.budget import current, sized
from automation.sandbox.limits import DEFAULT_LIMITS, LimitExceeded, Limits

Check = Callable[[Limits, inspect.BoundArguments], None]


def _value(bound: inspect.BoundArguments, name: str, default: Any = None) -> Any:
    return bound.arguments.get(name, default)


def _check_center(limits: Limits, bound: inspect.BoundArguments) -> None:
    width = _value(bound, "width", 80)
    if isinstance(width, int):
        guards._too_long(limits, "center", width)


def _check_indent(limits: Limits, bound: inspect.BoundArguments) -> None:
    text, width = str(_value(bound, "s", "")), _value(bound, "width", 4)
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    guards._too_long(limits, "indent", len(text) + (text.count("\n") + 1) * max(step, 0))


def _check_wordwrap(limits: Limits, bound: inspect.BoundArguments) -> None:
    text = str(_value(bound, "s", ""))
    _slow_input("wordwrap", text)
    width = _value(bound, "width", 79)
    wrap = _value(bound, "wrapstring") or "\n"
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    guards._too_long(limits, "wordwrap", len(text) + lines * len(str(wrap)))


def _check_replace(limits: Limits, bound: inspect.BoundArguments) -> None:
    count = _value(bound, "count")
    guards.check_replace(
        limits,
        str(_value(bound, "s", "")),
        str(_value(bound, "old", "")),
        str(_value(bound, "new", "")),
        -1 if count is None else count,
    )


def _check_format(limits: Limits, bound: inspect.BoundArguments) -> None:
    values = _value(bound, "kwargs") or _value(bound, "args")
    guards.check_percent_format(limits, str(_value(bound, "value", "")), values)


def _check_count(name: str, arg: str) -> Check:
    def check(limits: Limits, bound: inspect.BoundArguments) -> None:
        count = _value(bound, arg)
        if isinstance(count, int):
            guards._too_many(limits, name, count)

    return check


def _check_tojson(limits: Limits, bound: inspect.BoundArguments) -> None:
    indent = _value(bound, "indent")
    size = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if size > 16:
        raise LimitExceeded("width", "tojson indent over 16")


# urlize and wordwrap run Python-level loops over their whole input in one call
# (~2.5 s for 1 MB), so their input is kept to what they finish well within a deadline
SLOW_FILTER_INPUT = 100_000


def _slow_input(name: str, text: str) -> None:
    if len(text) > SLOW_FILTER_INPUT:
        raise LimitExceeded("string", f"{name} of more than {SLOW_FILTER_INPUT} characters")


def _check_urlize(limits: Limits, bound: inspect.BoundArguments) -> None:
    _slow_input("urlize", str(_value(bound, "value", "")))
    for name in ("target", "rel"):
        value = _value(bound, name)
        if isinstance(value, str) and len(value) > 200:
            raise LimitExceeded("string", f"urlize {name} longer than 200 characters")


_CHECKS: dict[str, Check] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "replace": _check_replace,
    "format": _check_format,
    "batch": _check_count("batch", "linecount"),
    "slice": _check_count("slice", "slices"),
    "tojson": _check_tojson,
    "urlize": _check_urlize,
}


def _limits() -> tuple[Limits, Any]:
    budget = current()
    return (budget.limits if budget is not None else DEFAULT_LIMITS), budget


_CONTEXT_PARAMS = {"context", "eval_ctx", "environment"}


def _guard(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _CHECKS.get(name)
    signature = inspect.signature(func) if check else None
    # the context/environment argument Jinja passes first, when the signature lacks it
    skip = 0
    if signature is not None and getattr(func, "jinja_pass_arg", None) is not None:
        skip = 0 if next(iter(signature.parameters), None) in _CONTEXT_PARAMS else 1

    @functools.wraps(func)  # keeps jinja_pass_arg (the context/environment argument)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        limits, budget = _limits()
        if budget is not None:
            budget.check_time()
        if check is not None and signature is not None:
            try:
                bound = signature.bind(*args[skip:], **kwargs)
            except TypeError:
                pass  # the filter itself reports the wrong arguments
            else:
                check(limits, bound)
        result = func(*args, **kwargs)
        if budget is not None:
            return budget.charge(result)
        sized(limits, result)
        return result

    return guarded


def _join(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        limits, _ = _limits()
        items = guards.bounded_list(limits, value)
        if attribute is not None:
            getter = make_attrgetter(eval_ctx.environment, attribute)
            items = [getter(item) for item in items]
        guards.check_join(limits, d, items)
        return original(eval_ctx, items, d)

    return join


def _sum(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def total(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        limits, _ = _limits()
        items = guards.bounded_list(limits, iterable)
        if attribute is not None:
            getter = make_attrgetter(environment, attribute)
            items = [getter(item) for item in items]
        result = start
        for item in items:
            guards.check_binop(limits, "+", result, item)
            result = result + item
        return result

    return total


def guarded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """``filters`` with every one wrapped; ``join`` and ``sum`` read their input once,
    bounded, before they run."""
    out: dict[str, Callable[..., Any]] = {}
    for name, func in filters.items():
        if name == "join":
            func = _join(func)
        elif name == "sum":
            func = _sum(func)
        out[name] = _guard(name, func)
    return out
