"""Rule conditions: field checks with operators, combined in AND/OR groups.

A field is a dotted path into the event's data (``user.email_verified``); the
event itself is reachable as ``event.type``, ``event.source``. Every check's
outcome is recorded, so a rule execution shows which conditions passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field

from automation.steps.builtin import lookup

Operator = Literal[
    "equals",
    "not_equals",
    "greater_than",
    "greater_than_or_equal",
    "less_than",
    "less_than_or_equal",
    "contains",
    "not_contains",
    "in",
    "not_in",
    "exists",
    "not_exists",
    "matches",
    "starts_with",
    "ends_with",
]
MAX_PATTERN = 500
MAX_SUBJECT = 10_000
# Patterns come from tenants: a backtracking bomb such as (a+)+$ must fail its
# check, not hold a worker. The regex package stops a match after this long.
MATCH_TIMEOUT_SECONDS = 0.05


class FieldCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["field_check"] = "field_check"
    field: str = Field(min_length=1, max_length=300)
    operator: Operator
    value: Any = None


class ConditionGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["group"]
    logic: Literal["and", "or"] = "and"
    conditions: list[FieldCheck | ConditionGroup] = Field(min_length=1, max_length=50)


Condition = FieldCheck | ConditionGroup


def check_problems(condition: Condition, where: str) -> list[str]:
    """Problems only visible with the operator and value together."""
    if isinstance(condition, ConditionGroup):
        out: list[str] = []
        for i, c in enumerate(condition.conditions):
            out.extend(check_problems(c, f"{where}.conditions[{i}]"))
        return out
    op, value = condition.operator, condition.value
    if op in ("in", "not_in") and not isinstance(value, list):
        return [f"{where}.value: operator {op!r} needs a list"]
    if op == "matches":
        if not isinstance(value, str) or len(value) > MAX_PATTERN:
            return [f"{where}.value: operator 'matches' needs a regex of at most {MAX_PATTERN}"]
        try:
            regex.compile(value)
        except regex.error as exc:
            return [f"{where}.value: not a valid regular expression ({exc})"]
    if op in ("starts_with", "ends_with") and not isinstance(value, str):
        return [f"{where}.value: operator {op!r} needs a string"]
    return []


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "equals":
        return bool(actual == expected)
    if op == "not_equals":
        return bool(actual != expected)
    if op in ("greater_than", "greater_than_or_equal", "less_than", "less_than_or_equal"):
        if isinstance(actual, bool) or isinstance(expected, bool):
            raise TypeError("booleans cannot be ordered")
        if op == "greater_than":
            return bool(actual > expected)
        if op == "greater_than_or_equal":
            return bool(actual >= expected)
        if op == "less_than":
            return bool(actual < expected)
        return bool(actual <= expected)
    if op in ("contains", "not_contains"):
        if isinstance(actual, str):
            found = isinstance(expected, str) and expected in actual
        elif isinstance(actual, list | dict):
            found = expected in actual
        else:
            raise TypeError(f"cannot look inside a {type(actual).__name__}")
        return found if op == "contains" else not found
    if op in ("in", "not_in"):
        found = actual in expected
        return found if op == "in" else not found
    if op == "matches":
        if not isinstance(actual, str):
            raise TypeError(f"cannot match a {type(actual).__name__} against a pattern")
        try:
            found = regex.search(expected, actual[:MAX_SUBJECT], timeout=MATCH_TIMEOUT_SECONDS)
        except TimeoutError:
            raise TypeError(
                f"pattern took longer than {MATCH_TIMEOUT_SECONDS * 1000:.0f} ms on this value"
            ) from None
        return found is not None
    if op == "starts_with":
        return isinstance(actual, str) and actual.startswith(expected)
    if op == "ends_with":
        return isinstance(actual, str) and actual.endswith(expected)
    raise ValueError(f"unknown operator {op!r}")


def evaluate(condition: Condition, data: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(passed, record) for one condition against ``data``."""
    if isinstance(condition, ConditionGroup):
        passed, results = evaluate_all(condition.conditions, condition.logic, data)
        return passed, {
            "type": "group",
            "logic": condition.logic,
            "passed": passed,
            "results": results,
        }
    found, actual = lookup(data, condition.field)
    record: dict[str, Any] = {
        "field": condition.field,
        "operator": condition.operator,
        "expected": condition.value,
        "actual": actual,
    }
    if condition.operator in ("exists", "not_exists"):
        passed = found if condition.operator == "exists" else not found
    elif not found:
        passed = False
        record["error"] = f"field {condition.field!r} is not in the event"
    else:
        try:
            passed = _compare(condition.operator, actual, condition.value)
        except (TypeError, regex.error) as exc:
            passed = False
            record["error"] = str(exc)
    record["passed"] = passed
    return passed, record


def evaluate_all(
    conditions: list[Condition], logic: str, data: Mapping[str, Any]
) -> tuple[bool, list[dict[str, Any]]]:
    """Every condition is evaluated and recorded (no short-circuit), then combined."""
    results = [evaluate(c, data) for c in conditions]
    outcomes = [p for p, _ in results]
    if not outcomes:
        return True, []
    passed = all(outcomes) if logic == "and" else any(outcomes)
    return passed, [r for _, r in results]
