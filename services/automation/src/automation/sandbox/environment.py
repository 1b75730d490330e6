"""The bounded sandbox: Jinja's immutable sandbox with every hook on a budget.

On top of :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no Python
internals, no mutation of the data given):

- ``*``, ``**``, ``+`` and ``%`` are intercepted and refused before they would
  produce a value over the limits (``9**(9**8)``, ``'x' * 10**9``);
- calls of ``ljust``/``rjust``/``center``/``zfill``/``expandtabs``/``replace``/
  ``join``/``translate``/``to_bytes`` and ``str.format`` widths are checked the
  same way, and so are the filters that can grow their input (see
  :mod:`automation.sandbox.filters`); ``range`` is bounded and ``lipsum`` gone;
- every loop counts its iterations, every ``~``, call, filter and operator
  result is measured, output is counted as it is joined (not after), and every
  loop iteration, call, filter and operator checks the render's deadline, so a
  render stops within one bounded operation of its limit (attribute and item
  lookups are O(1) and only ever repeated by something that checks);
- nothing is evaluated while a template compiles (no constant folding), so
  parsing or compiling a template never runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import update_wrapper
from types import BuiltinMethodType, MethodType
from typing import Any

from jinja2 import StrictUndefined, Template, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from automation.sandbox import guards
from automation.sandbox.budget import Budget, budget_scope, current, iterate, sized
from automation.sandbox.filters import guarded_filters
from automation.sandbox.limits import DEFAULT_LIMITS, LimitExceeded, Limits

_ITERATE = "automation.sandbox.budget.iterate"


class _CodeGenerator(CodeGenerator):
    """Measures every ``a ~ b`` (Jinja joins those without an operator hook)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.sandbox_charge(")
        super().visit_Concat(node, frame)
        self.write(")")


class BoundedTemplate(Template):
    """A template whose ``render`` opens a budget (or joins the one in progress)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with budget_scope(self.environment.limits):  # type: ignore[attr-defined]
            return super().render(*args, **kwargs)


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    # Taking the context keeps Jinja from evaluating constant output at compile time
    # (what is output is counted when it is joined).
    return value


def _bounded_concat(pieces: Iterable[str]) -> str:
    """Join a buffer (or the whole output), stopping as soon as it is too long."""
    budget = current()
    limit = (budget.limits if budget is not None else DEFAULT_LIMITS).max_output_chars
    parts: list[str] = []
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise LimitExceeded("output", f"renders to more than {limit} characters")
        parts.append(piece)
    text = "".join(parts)
    return budget.charge(text) if budget is not None else text


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` with widths and the total it produces bounded."""

    def __init__(self, env: Any, limits: Limits, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._limits = limits
        self._produced = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        guards.check_format_spec(self._limits, format_spec)
        result = super().format_field(value, format_spec)
        self._produced += len(result)
        if self._produced > self._limits.max_string_chars:
            raise LimitExceeded(
                "string", f"format() would be longer than {self._limits.max_string_chars}"
            )
        return result


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """One sandbox for every template of the service (workflows, rules, notifications)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CodeGenerator
    template_class = BoundedTemplate
    concat = staticmethod(_bounded_concat)

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS, autoescape: bool = False) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=autoescape,
            optimized=False,
            finalize=_finalize,
        )
        self.limits = limits
        self.globals["range"] = self._range
        self.globals.pop("lipsum", None)
        self.filters = guarded_filters(self.filters)

    # -- budget ------------------------------------------------------------------

    def _budget(self) -> Budget | None:
        budget = current()
        if budget is not None:
            budget.check_time()
        return budget

    def _limits(self, budget: Budget | None) -> Limits:
        return budget.limits if budget is not None else self.limits

    def sandbox_charge(self, value: Any) -> Any:
        budget = self._budget()
        if budget is not None:
            return budget.charge(value)
        sized(self.limits, value)
        return value

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``func`` (a compiled expression, say) inside a budget."""
        with budget_scope(self.limits):
            return func(*args, **kwargs)

    # -- parsing: every loop counts its items --------------------------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in list(tree.find_all(nodes.For)):
            loop.iter = nodes.Call(
                nodes.ImportedName(_ITERATE, lineno=loop.iter.lineno),
                [loop.iter],
                [],
                None,
                None,
                lineno=loop.iter.lineno,
            )
        return tree

    # -- hooks ---------------------------------------------------------------------

    def _range(self, *args: Any) -> range:
        limits = self._limits(self._budget())
        numbers = range(*args)
        if guards.range_size(numbers) > limits.max_range:
            raise LimitExceeded("range", f"range() of more than {limits.max_range} items")
        return numbers

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = self._budget()
        guards.check_binop(self._limits(budget), operator, left, right)
        return self.sandbox_charge(super().call_binop(context, operator, left, right))

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = __self._budget()
        if isinstance(__obj, LoopContext) and args:
            args = (iterate(args[0]), *args[1:])  # a recursive loop's next level
        args = guards.check_method_call(__self._limits(budget), __obj, args, kwargs)
        return __self.sandbox_charge(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, MethodType | BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        is_map = value.__name__ == "format_map"
        str_type = type(owner)

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            formatter: _BoundedFormatter
            limits = self._limits(current())
            if isinstance(owner, Markup):
                formatter = _BoundedEscapeFormatter(self, limits, escape=owner.escape)
            else:
                formatter = _BoundedFormatter(self, limits)
            if is_map:
                if kwargs or len(args) != 1 or not isinstance(args[0], Mapping):
                    raise TypeError("format_map() takes exactly one mapping")
                kwargs, args = dict(args[0]), ()
            return str_type(formatter.vformat(owner, args, kwargs))

        return update_wrapper(bounded_format, value)
