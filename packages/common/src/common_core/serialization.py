"""JSON for the values services actually pass around.

datetimes and dates (ISO 8601), sets and frozensets (sorted lists when the
items sort), Decimal (a string, so no precision is lost), UUID, Enum, bytes
(base64), dataclasses and pydantic models (their JSON mode dump).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from pydantic import BaseModel

__all__ = ["dumps", "json_default", "loads", "to_jsonable"]


def json_default(value: Any) -> Any:
    """``default=`` hook for :func:`json.dumps`; raises ``TypeError`` for the unknown."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """:func:`json.dumps` that understands the types above; compact by default."""
    separators = (",", ":") if indent is None else None
    return json.dumps(
        value,
        default=json_default,
        indent=indent,
        sort_keys=sort_keys,
        separators=separators,
        ensure_ascii=False,
    )


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def to_jsonable(value: Any) -> Any:
    """The plain JSON structure (dicts, lists, strings, numbers) of ``value``."""
    return json.loads(dumps(value))
