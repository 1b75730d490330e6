"""Pure pieces of the core: the pacing schedule and the formula builder's quoting."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimeiapify.formula import Field, match, quote
from mimeiapify.ratelimit import RateLimiterRegistry, SlidingWindowSchedule
from mimeiapify.testing._formula_eval import compile_formula


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_schedule_allows_a_burst_then_spaces_by_the_window() -> None:
    clock = Clock()
    schedule = SlidingWindowSchedule(limit=5, window=1.05, clock=clock)
    assert [schedule.reserve() for _ in range(5)] == [0.0] * 5
    waits = [schedule.reserve() for _ in range(5)]
    assert waits == pytest.approx([1.05] * 5)
    assert schedule.reserve() == pytest.approx(2.1)
    clock.now += 10
    assert schedule.reserve() == 0.0


def test_penalty_holds_every_booking() -> None:
    clock = Clock()
    schedule = SlidingWindowSchedule(limit=5, window=1.0, clock=clock)
    schedule.reserve()
    schedule.penalize(30.0)
    assert schedule.reserve() == 30.0
    clock.now += 31
    assert schedule.reserve() == 0.0


def test_no_window_ever_holds_more_than_the_limit() -> None:
    schedule = SlidingWindowSchedule(limit=5, window=1.0, clock=Clock())
    booked: list[float] = []
    lock = threading.Lock()

    def book() -> None:
        for _ in range(50):
            wait = schedule.reserve()
            with lock:
                booked.append(100.0 + wait)

    threads = [threading.Thread(target=book) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    booked.sort()
    assert len(booked) == 200
    assert all(booked[i + 5] - booked[i] >= 1.0 - 1e-9 for i in range(len(booked) - 5))


def test_registry_shares_a_schedule_per_key_and_limit() -> None:
    registry = RateLimiterRegistry()
    a = registry.schedule("base", 5, 1.05)
    assert registry.schedule("base", 5, 1.05) is a
    assert registry.schedule("other", 5, 1.05) is not a
    assert registry.schedule("base", 50, 1.05) is not a
    assert registry.schedule("base", 5, 1.05) is a


@given(st.text())
def test_quoted_text_reads_back_exactly(value: str) -> None:
    compiled = compile_formula(quote(value))
    assert compiled.node(None) == value  # type: ignore[arg-type]


@given(st.text(min_size=1), st.text())
def test_match_finds_exactly_the_value(name: str, value: str) -> None:
    compiled = compile_formula(str(match({name: value})))
    assert compiled.fields_used == {name}
    assert compiled.matches("recX", {name: value})
    assert not compiled.matches("recX", {name: value + "x"})


def test_comparisons_render_as_airtable_formulas() -> None:
    assert str(Field("Hours") > 3) == "{Hours}>3"
    assert str(Field("Done") == True) == "{Done}=TRUE()"  # noqa: E712
    assert str(Field("Due") == None) == "{Due}=BLANK()"  # noqa: E711
    assert str(~(Field("A") == 1.5) | (Field("B") != "x")) == 'OR(NOT({A}=1.5),{B}!="x")'
