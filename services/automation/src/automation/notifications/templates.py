"""Notification templates: Jinja2 in the bounded sandbox with strict undefined.

A template cannot reach Python internals (``{{ ''.__class__ }}`` is refused),
cannot mutate the data it is given, and a variable that is missing fails the
render with an error naming it instead of rendering blank. What a render may
do (loop iterations, output, sizes, time) is bounded by :mod:`automation.sandbox`,
the same sandbox workflow steps use; async callers render with
:meth:`TemplateRenderer.render_fields_async`, off the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from automation.sandbox import (
    BoundedSandbox,
    LimitExceeded,
    Limits,
    budget_scope,
    off_loop,
    static_problems,
)

MAX_TEMPLATE_CHARS = 100_000
MAX_RENDERED_CHARS = 1_000_000
LIMITS = Limits(max_output_chars=MAX_RENDERED_CHARS)


class TemplateError(ValueError):
    """A template could not be saved or rendered; ``field`` names the part at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class TemplateSyntaxProblem(TemplateError):
    """The template text does not parse."""


class MissingTemplateVariable(TemplateError):
    """The data given to a render lacks a variable the template uses."""


class TemplateSecurityProblem(TemplateError):
    """The template tried something the sandbox forbids."""


@dataclass(frozen=True)
class CheckedTemplate:
    """A template that parsed, with the top-level variables it reads."""

    source: str
    variables: frozenset[str]


class TemplateRenderer:
    """Parses and renders notification templates; one instance can be shared."""

    def __init__(self) -> None:
        self._text = BoundedSandbox(limits=LIMITS, autoescape=False)
        self._html = BoundedSandbox(limits=LIMITS, autoescape=True)

    def check(self, source: str, *, field: str = "template") -> CheckedTemplate:
        """Parse ``source``; raise TemplateError naming ``field`` and the line if it is bad."""
        if not isinstance(source, str):
            raise TemplateError(field, "must be a string")
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateError(field, f"longer than {MAX_TEMPLATE_CHARS} characters")
        try:
            tree: nodes.Template = self._text.parse(source)
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxProblem(field, f"line {exc.lineno}: {exc.message}") from exc
        except RecursionError:
            raise TemplateSyntaxProblem(field, "nested too deeply") from None
        except ValueError as exc:  # e.g. an integer literal over Python's 4300 digits
            raise TemplateSyntaxProblem(field, str(exc)) from None
        for problem in static_problems(tree, LIMITS):
            raise TemplateSecurityProblem(field, problem)
        return CheckedTemplate(source, frozenset(meta.find_undeclared_variables(tree)))

    def render(
        self,
        source: str,
        data: Mapping[str, Any],
        *,
        field: str = "template",
        html: bool = False,
    ) -> str:
        """Render ``source`` with ``data``; HTML output escapes the values it inserts.
        The output is bounded while it renders (see :data:`LIMITS`)."""
        self.check(source, field=field)
        env = self._html if html else self._text
        try:
            rendered = env.from_string(source).render(dict(data))
        except UndefinedError as exc:
            raise MissingTemplateVariable(field, f"missing variable: {exc.message}") from exc
        except LimitExceeded as exc:
            raise TemplateSecurityProblem(field, f"template stopped: {exc}") from exc
        except SecurityError as exc:
            raise TemplateSecurityProblem(field, f"not allowed: {exc}") from exc
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxProblem(field, f"line {exc.lineno}: {exc.message}") from exc
        except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            raise TemplateError(field, f"render failed: {exc}") from exc
        return rendered

    def render_fields(
        self, fields: Sequence[tuple[str, str | None, bool]], data: Mapping[str, Any]
    ) -> list[str | None]:
        """Render several ``(field, source, html)`` as one render (one budget, one
        deadline); a None source renders to None."""
        with budget_scope(LIMITS):
            return [
                None if source is None else self.render(source, data, field=field, html=html)
                for field, source, html in fields
            ]

    async def render_fields_async(
        self, fields: Sequence[tuple[str, str | None, bool]], data: Mapping[str, Any]
    ) -> list[str | None]:
        """:meth:`render_fields` on a render thread, never on the event loop."""
        return await off_loop(self.render_fields, fields, data)


default_renderer = TemplateRenderer()
