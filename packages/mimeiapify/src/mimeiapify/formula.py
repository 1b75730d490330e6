"""Build Airtable ``filterByFormula`` strings without string-pasting user input.

>>> from mimeiapify.formula import Field, AND, match
>>> str(AND(Field("Status") == "Done", Field("Hours") > 3))
'AND({Status}="Done",{Hours}>3)'
>>> str(match({"Name": 'say "hi"'}))
'{Name}="say \\\\"hi\\\\""'

Values are always rendered as literals (strings quoted and escaped, numbers,
booleans as ``TRUE()``/``FALSE()``, ``None`` as ``BLANK()``), and field names are
always wrapped in braces with ``{``/``}`` escaped, so no input can end a string
or a field reference early and inject formula code.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any


class Formula:
    """A formula fragment. ``&`` is AND, ``|`` is OR, ``~`` is NOT."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Formula) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __and__(self, other: Formula) -> Formula:
        return AND(self, other)

    def __or__(self, other: Formula) -> Formula:
        return OR(self, other)

    def __invert__(self) -> Formula:
        return NOT(self)


def quote(value: str) -> str:
    """A string literal that evaluates to exactly ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def field_ref(name: str) -> str:
    """``{name}`` with braces and backslashes inside the name escaped."""
    if not isinstance(name, str) or not name:
        raise ValueError("field name must be a non-empty string")
    escaped = name.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    return "{" + escaped + "}"


def literal(value: Any) -> str:
    """Render a Python value as a formula literal."""
    if isinstance(value, Formula):
        return value.text
    if value is None:
        return "BLANK()"
    if isinstance(value, bool):
        return "TRUE()" if value else "FALSE()"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot use {value!r} in a formula")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return quote(value.isoformat())
    raise TypeError(f"cannot use a {type(value).__name__} value in a formula")


class Field:
    """A reference to a field by name; comparisons give :class:`Formula` objects."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        field_ref(name)  # validates
        self.name = name

    def __str__(self) -> str:
        return field_ref(self.name)

    def _compare(self, op: str, value: Any) -> Formula:
        return Formula(f"{field_ref(self.name)}{op}{literal(value)}")

    def __eq__(self, value: Any) -> Formula:  # type: ignore[override]
        return self._compare("=", value)

    def __ne__(self, value: Any) -> Formula:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: Any) -> Formula:
        return self._compare("<", value)

    def __le__(self, value: Any) -> Formula:
        return self._compare("<=", value)

    def __gt__(self, value: Any) -> Formula:
        return self._compare(">", value)

    def __ge__(self, value: Any) -> Formula:
        return self._compare(">=", value)

    def __hash__(self) -> int:
        return hash(self.name)

    def is_blank(self) -> Formula:
        return Formula(f"{field_ref(self.name)}=BLANK()")

    def contains(self, text: str) -> Formula:
        """Case-sensitive substring test (``FIND(text, {field}) > 0``)."""
        return Formula(f"FIND({literal(text)},{field_ref(self.name)})>0")


def _join(op: str, parts: tuple[Formula | str, ...]) -> Formula:
    if not parts:
        raise ValueError(f"{op}() needs at least one condition")
    return Formula(f"{op}({','.join(str(p) for p in parts)})")


def AND(*conditions: Formula | str) -> Formula:  # named after the formula function
    return _join("AND", conditions)


def OR(*conditions: Formula | str) -> Formula:
    return _join("OR", conditions)


def NOT(condition: Formula | str) -> Formula:
    return Formula(f"NOT({condition})")


def match(values: Mapping[str, Any], *, match_any: bool = False) -> Formula:
    """Records whose fields equal every value given (any of them with ``match_any``)."""
    conditions = tuple(Field(name) == value for name, value in values.items())
    if not conditions:
        raise ValueError("match() needs at least one field")
    if len(conditions) == 1:
        return conditions[0]
    return OR(*conditions) if match_any else AND(*conditions)


def to_formula(value: Formula | str) -> str:
    """Accept a :class:`Formula` or a formula string the caller wrote."""
    if isinstance(value, Formula):
        return value.text
    if isinstance(value, str):
        return value
    raise TypeError(f"filter_by_formula must be a str or Formula, not {type(value).__name__}")
