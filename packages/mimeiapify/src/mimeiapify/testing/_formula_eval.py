"""A small evaluator for the subset of Airtable formulas the emulator supports.

Supported: field references ``{Name}`` (with ``\\{``, ``\\}``, ``\\\\`` escapes),
string literals in single or double quotes (backslash escapes), numbers,
operators ``= != < > <= >= + - * / &`` and parentheses, and the functions
AND, OR, NOT, IF, TRUE, FALSE, BLANK, RECORD_ID, LEN, LOWER, UPPER, TRIM,
FIND, SEARCH, CONCATENATE, VALUE. Anything else is an invalid formula
(Airtable's ``INVALID_FILTER_BY_FORMULA``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class FormulaError(ValueError):
    pass


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, field, name, op, lp, rp, comma, end
    value: Any


# Parentheses and function calls nest at most this deep (a level costs about ten
# Python frames to parse): deeper is an invalid formula (Airtable's 422), never a
# RecursionError. Chains (a + b + c ...) are evaluated in a loop and nest nothing.
MAX_NESTING = 50
_OPS = ("<=", ">=", "!=", "<>", "=", "<", ">", "+", "-", "*", "/", "&")
_NUM = re.compile(r"\d+(\.\d+)?|\.\d+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _read_escaped(text: str, i: int, close: str) -> tuple[str, int]:
    out = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == close:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise FormulaError(f"unterminated {'field reference' if close == '}' else 'string'}")


def tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            value, i = _read_escaped(text, i + 1, ch)
            toks.append(_Tok("str", value))
        elif ch == "{":
            value, i = _read_escaped(text, i + 1, "}")
            toks.append(_Tok("field", value))
        elif ch == "(":
            toks.append(_Tok("lp", ch))
            i += 1
        elif ch == ")":
            toks.append(_Tok("rp", ch))
            i += 1
        elif ch == ",":
            toks.append(_Tok("comma", ch))
            i += 1
        elif m := _NUM.match(text, i):
            toks.append(_Tok("num", float(m.group())))
            i = m.end()
        elif m := _NAME.match(text, i):
            toks.append(_Tok("name", m.group().upper()))
            i = m.end()
        else:
            for op in _OPS:
                if text.startswith(op, i):
                    toks.append(_Tok("op", "!=" if op == "<>" else op))
                    i += len(op)
                    break
            else:
                raise FormulaError(f"unexpected character {ch!r}")
    toks.append(_Tok("end", None))
    return toks


Node = Callable[["Context"], Any]


@dataclass
class Context:
    record_id: str
    fields: Mapping[str, Any]  # by field name
    known_fields: frozenset[str]


def _blank(v: Any) -> bool:
    return v is None or v == "" or v == [] or v is False


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list):
        return ", ".join(_text(x.get("name", x) if isinstance(x, dict) else x) for x in v)
    return str(v)


def _number(v: Any) -> float:
    if v is None or v == "":
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return 0.0


def _truthy(v: Any) -> bool:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v != 0
    return not _blank(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) or _is_number(b):
        return _number(a) == _number(b)
    return _text(a) == _text(b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "=":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if isinstance(a, str) and isinstance(b, str):
        x: Any
        y: Any
        x, y = a, b
    else:
        x, y = _number(a), _number(b)
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def _find(needle: Any, hay: Any, start: Any = 1, *, fold: bool = False) -> float:
    n, h = _text(needle), _text(hay)
    if fold:
        n, h = n.lower(), h.lower()
    pos = h.find(n, max(0, int(_number(start)) - 1))
    return float(pos + 1)


_FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    "TRUE": (0, 0, lambda: True),
    "FALSE": (0, 0, lambda: False),
    "BLANK": (0, 0, lambda: None),
    "NOT": (1, 1, lambda a: not _truthy(a)),
    "LEN": (1, 1, lambda a: float(len(_text(a)))),
    "LOWER": (1, 1, lambda a: _text(a).lower()),
    "UPPER": (1, 1, lambda a: _text(a).upper()),
    "TRIM": (1, 1, lambda a: _text(a).strip()),
    "VALUE": (1, 1, _number),
    "FIND": (2, 3, lambda *a: _find(*a)),
    "SEARCH": (2, 3, lambda *a: _find(*a, fold=True)),
    "CONCATENATE": (1, 255, lambda *a: "".join(_text(x) for x in a)),
}


class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.depth = 0
        self.fields_used: set[str] = set()

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind != kind:
            raise FormulaError(f"expected {kind}, found {tok.value!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.comparison()
        if self.peek().kind != "end":
            raise FormulaError(f"unexpected {self.peek().value!r}")
        return node

    def comparison(self) -> Node:
        return self._chain(self.concat, ("=", "!=", "<", ">", "<=", ">="), _compare)

    def concat(self) -> Node:
        return self._chain(self.additive, ("&",), _join)

    def additive(self) -> Node:
        return self._chain(self.term, ("+", "-"), _arithmetic)

    def term(self) -> Node:
        return self._chain(self.unary, ("*", "/"), _arithmetic)

    def _chain(
        self, operand: Callable[[], Node], ops: tuple[str, ...], apply: Callable[..., Any]
    ) -> Node:
        """``a op b op c ...`` left to right, evaluated in a loop: a long chain nests nothing."""
        first = operand()
        rest: list[tuple[str, Node]] = []
        while self.peek().kind == "op" and self.peek().value in ops:
            op = self.take("op").value
            rest.append((op, operand()))
        if not rest:
            return first

        def run(c: Context) -> Any:
            value = first(c)
            for op, node in rest:
                value = apply(op, value, node(c))
            return value

        return run

    def unary(self) -> Node:
        negations = 0
        while self.peek().kind == "op" and self.peek().value == "-":
            self.take("op")
            negations += 1
        inner = self.atom()
        if not negations:
            return inner
        sign = -1.0 if negations % 2 else 1.0
        return lambda c: sign * _number(inner(c))

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaError(f"the formula nests deeper than {MAX_NESTING} levels")

    def atom(self) -> Node:
        tok = self.peek()
        if tok.kind in ("num", "str"):
            self.i += 1
            value = tok.value
            return lambda c: value
        if tok.kind == "field":
            self.i += 1
            name = tok.value
            self.fields_used.add(name)
            return lambda c: c.fields.get(name)
        if tok.kind == "lp":
            self.i += 1
            self._enter()
            node = self.comparison()
            self.take("rp")
            self.depth -= 1
            return node
        if tok.kind == "name":
            self.i += 1
            self._enter()
            node = self.call(tok.value)
            self.depth -= 1
            return node
        raise FormulaError(f"unexpected {tok.value!r}")

    def call(self, name: str) -> Node:
        self.take("lp")
        args: list[Node] = []
        if self.peek().kind != "rp":
            args.append(self.comparison())
            while self.peek().kind == "comma":
                self.take("comma")
                args.append(self.comparison())
        self.take("rp")
        if name == "AND":
            return lambda c: all(_truthy(a(c)) for a in args) if args else True
        if name == "OR":
            return lambda c: any(_truthy(a(c)) for a in args)
        if name == "IF":
            if len(args) not in (2, 3):
                raise FormulaError("IF takes 2 or 3 arguments")
            otherwise = args[2] if len(args) == 3 else (lambda c: None)
            return lambda c: args[1](c) if _truthy(args[0](c)) else otherwise(c)
        if name == "RECORD_ID":
            if args:
                raise FormulaError("RECORD_ID takes no arguments")
            return lambda c: c.record_id
        if name not in _FUNCTIONS:
            raise FormulaError(f"unknown function {name}()")
        lo, hi, fn = _FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            raise FormulaError(f"{name}() takes {lo}..{hi} arguments, got {len(args)}")
        return lambda c: fn(*(a(c) for a in args))


def _divide(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def _join(op: str, a: Any, b: Any) -> str:
    return _text(a) + _text(b)


def _arithmetic(op: str, a: Any, b: Any) -> float | None:
    x, y = _number(a), _number(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return _divide(x, y)


@dataclass(frozen=True)
class CompiledFormula:
    node: Node
    fields_used: frozenset[str]

    def matches(self, record_id: str, fields: Mapping[str, Any]) -> bool:
        return _truthy(self.node(Context(record_id, fields, frozenset(fields))))


def compile_formula(text: str) -> CompiledFormula:
    parser = _Parser(tokenize(text))
    node = parser.parse()
    return CompiledFormula(node, frozenset(parser.fields_used))
