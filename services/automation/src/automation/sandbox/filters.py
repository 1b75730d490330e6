"""Jinja's built-in filters, each counted against the render's budget.

Every filter checks the deadline and has its result measured; the ones that can
make something much bigger than their input (``center``, ``indent``,
``wordwrap``, ``replace``, ``join``, ``format``, ``batch``, ``slice``, ``sum``,
``tojson``, ``urlize``) are checked before they run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from jinja2.filters import make_attrgetter

from automation.sandbox import guards
from automation.sandbox.budget import current, sized
from automation.sandbox.limits import DEFAULT_LIMITS, LimitExceeded, Limits

# A check gets the filter's arguments as the template gave them (value first;
# the context or environment Jinja passes before them is already taken off).
Check = Callable[[Limits, tuple[Any, ...], Mapping[str, Any]], None]


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], i: int, name: str, d: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, d)


def _check_center(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    width = _arg(args, kwargs, 1, "width", 80)
    if isinstance(width, int):
        guards._too_long(limits, "center", width)


def _check_indent(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text, width = str(_arg(args, kwargs, 0, "s", "")), _arg(args, kwargs, 1, "width", 4)
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    guards._too_long(limits, "indent", len(text) + (text.count("\n") + 1) * max(step, 0))


# urlize and wordwrap run Python-level loops over their whole input in one call
# (~2.5 s for 1 MB), so their input is kept to what they finish well within a deadline
SLOW_FILTER_INPUT = 100_000


def _slow_input(name: str, text: str) -> None:
    if len(text) > SLOW_FILTER_INPUT:
        raise LimitExceeded("string", f"{name} of more than {SLOW_FILTER_INPUT} characters")


def _check_wordwrap(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    text = str(_arg(args, kwargs, 0, "s", ""))
    _slow_input("wordwrap", text)
    width = _arg(args, kwargs, 1, "width", 79)
    wrap = _arg(args, kwargs, 3, "wrapstring", None) or "\n"
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    guards._too_long(limits, "wordwrap", len(text) + lines * len(str(wrap)))


def _check_replace(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    count = _arg(args, kwargs, 3, "count", None)
    guards.check_replace(
        limits,
        str(_arg(args, kwargs, 0, "s", "")),
        str(_arg(args, kwargs, 1, "old", "")),
        str(_arg(args, kwargs, 2, "new", "")),
        -1 if count is None else count,
    )


def _check_format(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    guards.check_percent_format(limits, str(_arg(args, kwargs, 0, "value", "")), kwargs or args[1:])


def _check_count(name: str, arg: str) -> Check:
    def check(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        count = _arg(args, kwargs, 1, arg, None)
        if isinstance(count, int):
            guards._too_many(limits, name, count)

    return check


def _check_tojson(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    indent = _arg(args, kwargs, 1, "indent", None)
    size = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if size > 16:
        raise LimitExceeded("width", "tojson indent over 16")


def _check_urlize(limits: Limits, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    _slow_input("urlize", str(_arg(args, kwargs, 0, "value", "")))
    for i, name in ((3, "target"), (4, "rel")):
        value = _arg(args, kwargs, i, name, None)
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


def _guard(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _CHECKS.get(name)
    # Jinja passes the context / eval context / environment first to these
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)  # keeps jinja_pass_arg
    def guarded(*args: Any, **kwargs: Any) -> Any:
        limits, budget = _limits()
        if budget is not None:
            budget.check_time()
        if check is not None:
            check(limits, args[skip:], kwargs)
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
