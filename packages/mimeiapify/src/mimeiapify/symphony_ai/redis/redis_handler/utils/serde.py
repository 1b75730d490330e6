"""Value encoding for Redis: compact, readable and lossless.

Hash fields are stored one value per field:

* booleans as ``"1"`` / ``"0"`` (compact);
* the integers 0 and 1 as ``" 0"`` / ``" 1"`` (valid JSON numbers that cannot be
  mistaken for booleans), other numbers as JSON;
* strings as themselves, unless they would read back as something else
  (``"1"``, ``"42"``, ``"null"``, ``'{"a":1}'``...), in which case they are
  JSON-quoted;
* ``None``, lists and dicts as JSON; datetimes/dates as ISO text; Enums by value;
  pydantic models as their JSON.

So ``1``, ``"1"`` and ``True`` each come back as what they were. Reads can be typed
with a model or any type pydantic validates (``models={"profile": UserProfile,
"last_login": datetime}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from mimeiapify.symphony_ai.errors import SerializationError

_JSONISH: Final = frozenset('{["-0123456789tfnIN \t\r\n')
_COMPACT = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=lambda v: _default(v)
)
_decode = json.JSONDecoder().decode


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise SerializationError(f"cannot store a value of type {type(value).__name__}")


def _plain_text_safe(text: str) -> bool:
    """True when ``text`` stored as-is reads back as the same string."""
    if not text or text[0] not in _JSONISH:
        return True
    if text in ("0", "1"):
        return False
    try:
        _decode(text)
    except ValueError:
        return True
    return False


def dumps(value: Any) -> str:
    """Encode one value for a hash field (see the module docstring for the rules)."""
    kind = type(value)
    if kind is str:
        return value if _plain_text_safe(value) else _COMPACT.encode(value)
    if kind is bool:
        return "1" if value else "0"
    if kind is int:
        return f" {value}" if value in (0, 1) else str(value)
    if kind is float:
        return _COMPACT.encode(value)
    if value is None:
        return "null"
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, Enum):
        return dumps(value.value)
    if isinstance(value, datetime | date | time):
        return dumps(value.isoformat())
    if isinstance(value, str):  # str/int/float subclasses are stored as their base type
        return dumps(str(value))
    if isinstance(value, int):
        return dumps(int(value))
    if isinstance(value, float):
        return dumps(float(value))
    if isinstance(value, Decimal | UUID):
        return dumps(str(value))
    try:
        return _COMPACT.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"cannot store a value of type {kind.__name__}: {exc}") from exc


def loads(raw: str | bytes | None, model: Any = None) -> Any:
    """Decode a value written by :func:`dumps` or by 1.4 (``None`` and ``"null"`` are
    ``None``), validated into ``model`` (a pydantic model or any annotated type)
    when one is given.

    ``"1"``/``"0"`` are booleans, JSON is decoded, anything else is the text
    itself, as 1.4 read them. Booleans that 1.4 stored inside a model as
    ``"1"``/``"0"`` validate into the model's ``bool`` fields; unlike 1.4, a ``str``
    field holding ``"1"`` stays the text ``"1"``.
    """
    value = _loads(raw)
    return to_model(value, model) if model is not None else value


def _loads(raw: str | bytes | None) -> Any:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    if raw == "1":
        return True
    if raw == "0":
        return False
    if raw and raw[0] in _JSONISH:
        try:
            return _decode(raw)
        except ValueError:
            return raw
    return raw


def legacy_dumps(value: Any) -> str | None:
    """How 1.4 stored ``value`` in a hash field, for the scalar types where that
    differs from :func:`dumps` (``None`` otherwise). Lookups by value
    (``find_by_field``) match either form, so they find 1.4's records too."""
    if type(value) is bool:
        return "1" if value else "0"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return value
    return None


def legacy_text(raw: str | None) -> str | None:
    """A stored value as 1.4 would have stored it (``" 1"`` -> ``"1"``, ``'"42"'`` ->
    ``"42"``); for the one 1.4 API that returned stored text undecoded."""
    if raw is None:
        return None
    legacy = legacy_dumps(_loads(raw))
    return legacy if legacy is not None else raw


def stored_forms(value: Any) -> set[str]:
    """Every text a hash field holding ``value`` may contain (ours and 1.4's)."""
    forms = {dumps(value)}
    legacy = legacy_dumps(value)
    if legacy is not None:
        forms.add(legacy)
    return forms


def dumps_hash(data: Mapping[str, Any]) -> dict[str, str]:
    """Each value of a mapping encoded with :func:`dumps` (for HSET)."""
    return {name: dumps(value) for name, value in data.items()}


def loads_hash(
    raw_data: Mapping[str, str] | None, models: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Decode HGETALL output (``{}`` for none), validating the fields named in ``models``."""
    return decode_mapping(raw_data, models) if raw_data else {}


def dumps_json(value: Any) -> str:
    """A whole value as compact JSON (list items, string keys, pub/sub messages)."""
    try:
        return _COMPACT.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"cannot store a value of type {type(value).__name__}: {exc}"
        ) from exc


def loads_json(raw: str | bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise SerializationError(f"stored value is not valid JSON: {exc}") from exc


@lru_cache(maxsize=512)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def to_model(value: Any, model: Any, field: str = "value") -> Any:
    """Validate a decoded value into ``model`` (a pydantic model or any annotated type)."""
    if value is None:
        return None
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(value)
        return _adapter(model).validate_python(value)
    except ValidationError as exc:
        raise SerializationError(f"{field}: stored value does not fit {model!r}: {exc}") from exc


def encode_mapping(data: Mapping[str, Any], field: str = "data") -> dict[str, str]:
    """Encode a mapping of fields for HSET; rejects empty or non-string field names."""
    if not isinstance(data, Mapping):
        if isinstance(data, BaseModel):
            data = data.model_dump()
        else:
            raise SerializationError(f"{field}: expected a mapping, got {type(data).__name__}")
    if not data:
        raise SerializationError(f"{field}: must contain at least one field")
    out: dict[str, str] = {}
    for name, value in data.items():
        if type(name) is not str or not name:
            raise SerializationError(
                f"{field}: field names must be non-empty strings, got {name!r}"
            )
        out[name] = dumps(value)
    return out


def decode_mapping(
    raw: Mapping[str, str], models: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Decode HGETALL output, validating the fields named in ``models``."""
    out = {name: _loads(value) for name, value in raw.items()}
    if models:
        for name, model in models.items():
            if name in out:
                out[name] = to_model(out[name], model, name)
    return out
