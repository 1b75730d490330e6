"""Sandboxed Jinja2 templates over step and event data.

A string that is exactly one expression (``"{{ input.items }}"``) renders to the
value itself (a list stays a list); any other string renders to text. Undefined
names fail loudly (StrictUndefined) instead of rendering blank, and the sandbox
keeps templates away from Python internals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
MAX_TEMPLATE_LENGTH = 20_000

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


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
            match = _SINGLE_EXPRESSION.match(value)
            if match:
                _env.compile_expression(match.group("expr"))
            else:
                _env.parse(value)
        except TemplateSyntaxError as exc:
            problems.append(f"{where}: template syntax error: {exc.message}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            problems.extend(syntax_problems(item, f"{where}.{key}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems.extend(syntax_problems(item, f"{where}[{i}]"))
    return problems


def render(value: Any, scope: Mapping[str, Any], where: str = "config") -> Any:
    """Render every template inside ``value`` against ``scope``."""
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
        except SecurityError as exc:
            raise TemplateError(f"{where}: not allowed in a template ({exc})") from None
        except TemplateSyntaxError as exc:
            raise TemplateError(f"{where}: template syntax error: {exc.message}") from None
        except Exception as exc:
            raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None
    if isinstance(value, Mapping):
        return {k: render(v, scope, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def evaluate(expression: str, scope: Mapping[str, Any], where: str = "expression") -> bool:
    """The truth of a condition, written ``{{ ... }}`` or bare (``input.total > 10``)."""
    text = expression if _is_template(expression) else "{{ " + expression + " }}"
    return bool(render(text, scope, where))


def expression_problems(expression: Any, where: str) -> list[str]:
    if not isinstance(expression, str) or not expression.strip():
        return [f"{where}: must be a non-empty string"]
    text = expression if _is_template(expression) else "{{ " + expression + " }}"
    return syntax_problems(text, where)
