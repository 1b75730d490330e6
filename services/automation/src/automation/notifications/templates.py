"""Notification templates: Jinja2 in an immutable sandbox with strict undefined.

A template cannot reach Python internals (``{{ ''.__class__ }}`` is refused),
cannot mutate the data it is given, and a variable that is missing fails the
render with an error naming it instead of rendering blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_CHARS = 100_000
MAX_RENDERED_CHARS = 1_000_000


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


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus limits on ``*`` and ``**`` so one expression cannot eat memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise SecurityError("exponent larger than 100")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if sized and len(seq) * count > MAX_RENDERED_CHARS:
                    raise SecurityError("repetition result too large")
        return super().call_binop(context, operator, left, right)


@dataclass(frozen=True)
class CheckedTemplate:
    """A template that parsed, with the top-level variables it reads."""

    source: str
    variables: frozenset[str]


class TemplateRenderer:
    """Parses and renders notification templates; one instance can be shared."""

    def __init__(self) -> None:
        self._text = _BoundedSandbox(undefined=StrictUndefined, autoescape=False)
        self._html = _BoundedSandbox(undefined=StrictUndefined, autoescape=True)

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
        return CheckedTemplate(source, frozenset(meta.find_undeclared_variables(tree)))

    def render(
        self,
        source: str,
        data: Mapping[str, Any],
        *,
        field: str = "template",
        html: bool = False,
    ) -> str:
        """Render ``source`` with ``data``; HTML output escapes the values it inserts."""
        self.check(source, field=field)
        env = self._html if html else self._text
        try:
            rendered = env.from_string(source).render(dict(data))
        except UndefinedError as exc:
            raise MissingTemplateVariable(field, f"missing variable: {exc.message}") from exc
        except SecurityError as exc:
            raise TemplateSecurityProblem(field, f"not allowed: {exc}") from exc
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxProblem(field, f"line {exc.lineno}: {exc.message}") from exc
        except (TypeError, ValueError, ArithmeticError, OverflowError) as exc:
            raise TemplateError(field, f"render failed: {exc}") from exc
        if len(rendered) > MAX_RENDERED_CHARS:
            raise TemplateError(field, f"renders to more than {MAX_RENDERED_CHARS} characters")
        return rendered


default_renderer = TemplateRenderer()
