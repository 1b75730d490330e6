"""Reusable pydantic validators: positive numbers and non-empty strings.

Use them as annotated types::

    class Order(BaseModel):
        amount: PositiveNumber
        customer: NonEmptyStr

or call the functions from your own ``field_validator``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, TypeVar

from pydantic import AfterValidator

__all__ = [
    "NonEmptyStr",
    "NonNegativeNumber",
    "PositiveNumber",
    "ensure_non_empty_str",
    "ensure_non_negative",
    "ensure_positive",
]

Number = TypeVar("Number", int, float, Decimal)


def _check_finite(value: Number) -> None:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError("must be a finite number")


def ensure_positive(value: Number) -> Number:
    _check_finite(value)
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}")
    return value


def ensure_non_negative(value: Number) -> Number:
    _check_finite(value)
    if value < 0:
        raise ValueError(f"must be 0 or greater, got {value}")
    return value


def ensure_non_empty_str(value: str) -> str:
    """Strips surrounding whitespace; an empty result is an error."""
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be empty or only whitespace")
    return stripped


PositiveNumber = Annotated[float, AfterValidator(ensure_positive)]
NonNegativeNumber = Annotated[float, AfterValidator(ensure_non_negative)]
NonEmptyStr = Annotated[str, AfterValidator(ensure_non_empty_str)]
