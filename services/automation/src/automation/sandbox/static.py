"""What a parsed template shows to be over the limits without running it.

Saving a workflow, a rule or a notification template only parses it; this walks
the parsed tree and folds the constant parts with the same size checks the
sandbox makes at render time, so ``{{ 9**(9**8) }}``, ``{{ 'x' * 10**9 }}``,
``range(10**9)`` or two nested ``range(15000)`` loops are refused when they are
saved (422) instead of when they run. Every step of the folding is bounded by
those checks, so this never does more than a render would be allowed to.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jinja2 import nodes

from automation.sandbox import guards
from automation.sandbox.limits import LimitExceeded, Limits

_UNKNOWN = object()
_BINOPS: dict[type[nodes.BinExpr], tuple[str, Callable[[Any, Any], Any]]] = {
    nodes.Add: ("+", operator.add),
    nodes.Sub: ("-", operator.sub),
    nodes.Mul: ("*", operator.mul),
    nodes.Div: ("/", operator.truediv),
    nodes.FloorDiv: ("//", operator.floordiv),
    nodes.Mod: ("%", operator.mod),
    nodes.Pow: ("**", operator.pow),
}
_SCALARS = (int, float, str)


def _loop_source(node: nodes.Node) -> nodes.Node:
    # the sandbox wraps every loop's iterable in a call that counts its items
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.ImportedName) and node.args:
        return node.args[0]
    return node


class _Folder:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def fold(self, node: nodes.Node) -> Any:
        """The constant value of ``node``, or _UNKNOWN; raises LimitExceeded."""
        if isinstance(node, nodes.Const):
            return node.value if isinstance(node.value, _SCALARS) else _UNKNOWN
        if isinstance(node, nodes.BinExpr) and type(node) in _BINOPS:
            left, right = self.fold(node.left), self.fold(node.right)
            if not (isinstance(left, _SCALARS) and isinstance(right, _SCALARS)):
                return _UNKNOWN
            symbol, apply = _BINOPS[type(node)]
            guards.check_binop(self.limits, symbol, left, right)
            try:
                value = apply(left, right)
            except (ArithmeticError, TypeError, ValueError):
                return _UNKNOWN
            return value if isinstance(value, _SCALARS) else _UNKNOWN
        if isinstance(node, nodes.Neg | nodes.Pos):
            value = self.fold(node.node)
            if isinstance(value, int | float):
                return -value if isinstance(node, nodes.Neg) else value
            return _UNKNOWN
        if isinstance(node, nodes.Call):
            return self._call(node)
        for child in node.iter_child_nodes():
            self.fold(child)
        return _UNKNOWN

    def _call(self, node: nodes.Call) -> Any:
        args = [self.fold(a) for a in node.args]
        folded = {id(a) for a in node.args}
        for child in node.iter_child_nodes():
            if id(child) not in folded:
                self.fold(child)
        is_range = isinstance(node.node, nodes.Name) and node.node.name == "range"
        if is_range and args and not node.kwargs and all(isinstance(a, int) for a in args):
            try:
                numbers = range(*args)
            except (TypeError, ValueError):
                return _UNKNOWN
            if guards.range_size(numbers) > self.limits.max_range:
                raise LimitExceeded("range", f"range() of more than {self.limits.max_range} items")
            return numbers
        return _UNKNOWN

    def walk(self, node: nodes.Node, loops: int) -> None:
        if isinstance(node, nodes.For):
            source = self.fold(_loop_source(node.iter))
            count = len(source) if isinstance(source, range) else 1
            inner = loops * max(count, 1)
            if inner > self.limits.max_loop_iterations:
                raise LimitExceeded(
                    "loop_iterations",
                    f"nested loops of more than {self.limits.max_loop_iterations} iterations",
                )
            for child in node.iter_child_nodes():
                if child is not node.iter:
                    self.walk(child, inner)
            return
        if isinstance(node, nodes.Expr):
            self.fold(node)
            return
        for child in node.iter_child_nodes():
            self.walk(child, loops)


def static_problems(tree: nodes.Template, limits: Limits) -> list[str]:
    """The first limit the template's constant parts are seen to break ([] if none)."""
    try:
        _Folder(limits).walk(tree, 1)
    except LimitExceeded as exc:
        return [f"template would exceed a limit: {exc}"]
    except RecursionError:
        return ["template nested too deeply"]
    return []
