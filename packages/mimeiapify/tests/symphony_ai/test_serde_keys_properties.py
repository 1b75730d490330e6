"""Property tests: every storable value round-trips with its type; escaping is reversible."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mimeiapify.symphony_ai.redis import KeyFactory, dumps, loads
from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import escape, unescape

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(values)
def test_every_value_comes_back_as_it_was(value: Any) -> None:
    assert same(loads(dumps(value)), value)


def test_nan_and_infinity_survive() -> None:
    assert math.isnan(loads(dumps(float("nan"))))
    assert loads(dumps(float("inf"))) == float("inf")


@given(st.text(min_size=1, max_size=200))
def test_escaping_is_reversible_and_glob_free(part: str) -> None:
    escaped = escape(part)
    assert unescape(escaped) == part
    assert not set(escaped) & set(":*?[]\\{} \t\r\n")


@given(
    st.text(min_size=1, max_size=50),
    st.text(min_size=1, max_size=50),
    st.text(min_size=1, max_size=50),
)
def test_distinct_identities_never_share_a_key(tenant: str, user: str, state: str) -> None:
    full = KeyFactory().shared_state(tenant, state, user)
    key = full[len(KeyFactory.namespace) :]
    assert key.count(":") == 3
    root, kind, state_part, user_part = key.split(":")
    assert (unescape(root), kind, unescape(state_part), unescape(user_part)) == (
        tenant,
        "SS",
        state,
        user,
    )
