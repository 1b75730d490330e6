"""Flattening nested lists, tuples and other iterables (strings stay whole)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["flatten", "iter_flat"]

_ATOMIC = (str, bytes, bytearray, Mapping)


def iter_flat(items: Iterable[Any], max_depth: int | None = None) -> Iterator[Any]:
    """Yield the leaves of ``items`` depth first; no recursion limit problems.

    Strings, bytes and mappings are leaves. ``max_depth`` bounds how many levels
    are opened (``1`` opens only the outer list's direct children).
    """
    if max_depth is not None and max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    stack: list[tuple[Iterator[Any], int]] = [(iter(items), 0)]
    while stack:
        iterator, depth = stack[-1]
        for item in iterator:
            can_open = max_depth is None or depth < max_depth
            if can_open and isinstance(item, Iterable) and not isinstance(item, _ATOMIC):
                stack.append((iter(item), depth + 1))
                break
            yield item
        else:
            stack.pop()


def flatten(items: Iterable[Any], max_depth: int | None = None) -> list[Any]:
    """``flatten([1, [2, [3, (4,)]], "ab"])`` -> ``[1, 2, 3, 4, "ab"]``."""
    return list(iter_flat(items, max_depth))
