"""Size checks made before an operation allocates.

Each check raises :class:`LimitExceeded` when the operation would produce more
than the limits allow, so ``'x' * 10**9``, ``'x'.ljust(10**9)``,
``[big] * 400 | join`` or ``'%999999999s' % x`` fail at once instead of
allocating first and being measured afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import BuiltinMethodType, MethodType
from typing import Any

from automation.sandbox.limits import LimitExceeded, Limits

_SEQUENCES = (str, bytes, list, tuple)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


def _too_long(limits: Limits, what: str, size: int) -> None:
    if size > limits.max_string_chars:
        raise LimitExceeded("string", f"{what} would be longer than {limits.max_string_chars}")


def _too_many(limits: Limits, what: str, size: int) -> None:
    if size > limits.max_items:
        raise LimitExceeded("items", f"{what} would hold more than {limits.max_items} items")


def _check_size(limits: Limits, what: str, sample: Any, size: int) -> None:
    if isinstance(sample, str | bytes):
        _too_long(limits, what, size)
    else:
        _too_many(limits, what, size)


def _int_bits(limits: Limits, what: str, bits: int) -> None:
    if bits > limits.max_int_bits:
        raise LimitExceeded("int", f"{what} would be larger than {limits.max_int_bits} bits")


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def check_binop(limits: Limits, operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would be too big."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and _is_int(count):
                _check_size(limits, "a repetition", seq, len(seq) * max(count, 0))
        if _is_int(left) and _is_int(right):
            _int_bits(limits, "a product", left.bit_length() + right.bit_length())
    elif operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
            _int_bits(limits, "a power", left.bit_length() * right)
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            _check_size(limits, "a concatenation", left, len(left) + len(right))
    elif operator == "%" and isinstance(left, str | bytes):
        check_percent_format(limits, left, right)


@lru_cache(maxsize=1024)
def _percent_specs(text: str) -> tuple[int, int]:
    """(how many ``%`` specs, the largest width or precision; -1 for a ``*``)."""
    specs, widest = 0, 0
    for match in _PERCENT_SPEC.finditer(text):
        specs += 1
        for number in match.groups():
            if number == "*":
                return specs, -1
            if number is not None:
                widest = max(widest, int(number) if len(number) <= 9 else 10**9)
    return specs, widest


def check_percent_format(limits: Limits, fmt: str | bytes, values: Any = None) -> None:
    """Refuse ``%`` formats with a ``*`` width or a width/precision over the limit, and
    ones that would repeat a mapping's value past the size limit (``%(a)s%(a)s...``)."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    if "%" not in text:
        return
    specs, widest = _percent_specs(text) if len(text) <= 4096 else _percent_specs.__wrapped__(text)
    if widest < 0:
        raise LimitExceeded("width", "'*' widths are not allowed in templates")
    if widest > limits.max_width:
        raise LimitExceeded("width", f"a format width over {limits.max_width}")
    if isinstance(values, Mapping) and values:
        longest = max(text_size(v) for v in values.values())
        _too_long(limits, "a % format", len(text) + specs * longest)


def check_format_spec(limits: Limits, spec: str) -> None:
    """Refuse ``str.format`` specs (``{:>999999999}``) with a width over the limit."""
    for number in _NUMBER.findall(spec):
        if len(number) > 9 or int(number) > limits.max_width:
            raise LimitExceeded("width", f"a format width over {limits.max_width}")


def range_size(numbers: range) -> int:
    """``len(numbers)``, also for ranges too long for ``len()`` (which then raises)."""
    try:
        return len(numbers)
    except OverflowError:
        return 2**63


def bounded_list(limits: Limits, iterable: Iterable[Any]) -> list[Any]:
    """The items of ``iterable``, stopping as soon as there are too many."""
    if isinstance(iterable, list | tuple):
        _too_many(limits, "a sequence", len(iterable))
        return list(iterable)
    items: list[Any] = []
    for item in iterable:
        items.append(item)
        if len(items) > limits.max_items:
            _too_many(limits, "a sequence", len(items))
    return items


def text_size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes) else len(str(value))


def check_join(limits: Limits, separator: Any, items: list[Any]) -> None:
    total = sum(text_size(item) for item in items)
    total += text_size(separator) * max(len(items) - 1, 0)
    _too_long(limits, "a join", total)


def check_replace(limits: Limits, value: str | bytes, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return
    try:
        found = value.count(old) if old else len(value) + 1  # type: ignore[arg-type]
    except TypeError:
        return  # str and bytes mixed: the call fails by itself
    if _is_int(count) and count >= 0:
        found = min(found, count)
    _too_long(limits, "a replace", len(value) + found * max(len(new) - len(old), 0))


def check_translate(limits: Limits, value: str, table: Any) -> None:
    if not isinstance(table, Mapping):
        raise LimitExceeded("translate", "translate() takes a dict in templates")
    longest = max((len(v) for v in table.values() if isinstance(v, str | bytes)), default=1)
    _too_long(limits, "a translate", len(value) * max(longest, 1))


def _width_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> Any:
    return args[0] if args else kwargs.get(name)


def check_method_call(
    limits: Limits, method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, ...]:
    """Pre-check a call of a built-in method; returns the args to call it with
    (a lazy iterable given to ``join`` is read once, here)."""
    # built-in methods, and the Python ones of str subclasses (Markup wraps ljust...)
    if not isinstance(method, BuiltinMethodType | MethodType):
        return args
    owner, name = method.__self__, method.__name__
    if isinstance(owner, str | bytes):
        if name in ("ljust", "rjust", "center", "zfill"):
            width = _width_arg(args, kwargs, "width")
            if _is_int(width):
                _too_long(limits, f"{name}()", max(width, len(owner)))
        elif name == "expandtabs":
            tabsize = _width_arg(args, kwargs, "tabsize")
            size = 8 if tabsize is None else tabsize
            if _is_int(size):
                _too_long(limits, "expandtabs()", len(owner) + owner.count("\t") * max(size, 0))  # type: ignore[arg-type]
        elif name == "replace" and len(args) >= 2:
            check_replace(limits, owner, args[0], args[1], args[2] if len(args) > 2 else -1)
        elif name == "join" and args:
            items = bounded_list(limits, args[0])
            check_join(limits, owner, items)
            return (items, *args[1:])
        elif name == "translate" and isinstance(owner, str) and args:
            check_translate(limits, owner, args[0])
    elif isinstance(owner, int) and name == "to_bytes":
        length = _width_arg(args, kwargs, "length")
        if _is_int(length):
            _too_long(limits, "to_bytes()", length)
    return args
