"""Sandboxed Jinja2 templates over step and event data.

A string that is exactly one expression (``"{{ input.items }}"``) renders to the
value itself (a list stays a list); any other string renders to text. Undefined
names fail loudly (StrictUndefined) instead of rendering blank, and the bounded
sandbox (:mod:`automation.sandbox`) keeps templates away from Python internals
and bounds what one render may do: one config (all its templates) is one render,
with one budget and one deadline.

Checking a definition only parses its templates (:func:`syntax_problems`), it
never runs them; async callers render with :func:`render_async`, which runs off
the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from automation.sandbox import (
    BoundedSandbox,
    LimitExceeded,
    budget_scope,
    off_loop,
    static_problems,
)

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
MAX_TEMPLATE_LENGTH = 20_000

_env = BoundedSandbox()


@lru_cache(maxsize=2048)
def _template(source: str) -> Template:
    return _env.from_string(source)


@lru_cache(maxsize=2048)
def _expression(source: str) -> Callable[..., Any]:
    return _env.compile_expression(source, undefined_to_none=False)


class TemplateError(Exception):
    """A template could not be compiled or rendered; the message names where."""


def _is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def syntax_problems(value: Any, where: str) -> list[str]:
    """Every template syntax error in ``value`` (strings, lists, dicts), by path."""
    problems: list[str] = []
    if isinstance(value, str):
        if not _is_template(value):
            return problems
        if len(value) > MAX_TEMPLATE_LENGTH:
            return [f"{where}: template longer than {MAX_TEMPLATE_LENGTH} characters"]
        try:
            tree = _env.parse(value)  # parsed, never compiled or run
            problems.extend(f"{where}: {p}" for p in static_problems(tree, _env.limits))
        except TemplateSyntaxError as exc:
            problems.append(f"{where}: template syntax error: {exc.message}")
        except RecursionError:
            problems.append(f"{where}: template nested too deeply")
        except ValueError as exc:  # e.g. an integer literal over Python's 4300 digits
            problems.append(f"{where}: template syntax error: {exc}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            problems.extend(syntax_problems(item, f"{where}.{key}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems.extend(syntax_problems(item, f"{where}[{i}]"))
    return problems


def render(value: Any, scope: Mapping[str, Any], where: str = "config") -> Any:
    """Render every template inside ``value`` against ``scope``, as one bounded render
    (call it off the event loop: :func:`render_async`)."""
    with budget_scope(_env.limits):
        return _render(value, scope, where)


async def render_async(value: Any, scope: Mapping[str, Any], where: str = "config") -> Any:
    """:func:`render` on a render thread; a :func:`~automation.sandbox.time_limit`
    around the call cuts its deadline. A value with no template in it is copied
    here, without the trip to a thread."""
    if not has_templates(value):
        return _render(value, scope, where)  # nothing in it runs
    return await off_loop(render, value, scope, where)


def has_templates(value: Any) -> bool:
    """Whether any string inside ``value`` is a template."""
    if isinstance(value, str):
        return _is_template(value)
    if isinstance(value, Mapping):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False


def _render(value: Any, scope: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):
        if not _is_template(value):
            return value
        try:
            match = _SINGLE_EXPRESSION.match(value)
            if match:
                result = _expression(match.group("expr"))(**scope)
                if isinstance(result, StrictUndefined):
                    str(result)  # raises UndefinedError with the name
                return result
            return _template(value).render(**scope)
        except UndefinedError as exc:
            raise TemplateError(f"{where}: {exc.message}") from None
        except LimitExceeded as exc:
            raise TemplateError(f"{where}: template stopped: {exc}") from None
        except SecurityError as exc:
            raise TemplateError(f"{where}: not allowed in a template ({exc})") from None
        except TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
        except Exception as exc:
            raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
    if isinstance(value, Mapping):
        return {k: _render(v, scope, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, scope, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def evaluate(expression: str, scope: Mapping[str, Any], where: str = "expression") -> bool:
    """The truth of a condition, written ``{{ ... }}`` or bare (``input.total > 10``)."""
    text = expression if _is_template(expression) else "{{ " + expression + " }}"
    return bool(render(text, scope, where))


async def evaluate_async(
    expression: str, scope: Mapping[str, Any], where: str = "expression"
) -> bool:
    """:func:`evaluate` on a render thread."""
    return await off_loop(evaluate, expression, scope, where)


def expression_problems(expression: Any, where: str) -> list[str]:
    if not isinstance(expression, str) or not expression.strip():
        return [f"{where}: must be a non-empty string"]
    text = expression if _is_template(expression) else "{{ " + expression + " }}"
    return syntax_problems(text, where)
