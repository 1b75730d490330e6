"""Pure pieces of the core: the pacing schedule and the formula builder's quoting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimeiapify import (
    AirtableAuthError,
    AirtableNotFoundError,
    AirtableRateLimitError,
    AirtableServerError,
    AirtableValidationError,
    WompiServerError,
    WompiValidationError,
)
from mimeiapify._plan import HttpResponse
from mimeiapify.airtable.protocol import error_from_response
from mimeiapify.formula import Field, match, quote
from mimeiapify.ratelimit import RateLimiterRegistry, SlidingWindowSchedule
from mimeiapify.testing._formula_eval import compile_formula
from mimeiapify.wompi.protocol import error_from_response as wompi_error


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_window_after_each_finished_request() -> None:
    clock = Clock()
    schedule = SlidingWindowSchedule(limit=5, window=1.0, clock=clock)
    first = [schedule.take() for _ in range(5)]
    assert [schedule.wait(t) for t in first] == [0.0] * 5
    sixth = schedule.take()
    # the request five places back is still in flight: look again shortly
    assert schedule.wait(sixth) == pytest.approx(1.0)
    clock.now += 1.0
    assert 0 < schedule.wait(sixth) <= 0.01 + 1e-9
    clock.now += 0.2
    schedule.finish(first[0])  # answered at 101.2
    assert schedule.wait(sixth) == pytest.approx(1.0)
    clock.now += 1.0
    assert schedule.wait(sixth) == 0.0


def test_penalty_holds_every_ticket() -> None:
    clock = Clock()
    schedule = SlidingWindowSchedule(limit=5, window=1.0, clock=clock)
    schedule.finish(schedule.take())
    schedule.penalize(30.0)
    ticket = schedule.take()
    assert schedule.wait(ticket) == 30.0
    clock.now += 30
    assert schedule.wait(ticket) == 0.0


def test_server_side_windows_never_exceed_the_limit() -> None:
    """Many concurrent requests with uneven latency: any request leaves at least one
    window after the request five places earlier was answered."""
    clock = Clock()
    schedule = SlidingWindowSchedule(limit=5, window=1.0, clock=clock)
    pending = [schedule.take() for _ in range(60)]
    in_flight: list[tuple[float, Any]] = []
    sent: dict[int, float] = {}
    done: dict[int, float] = {}
    order = {id(t): i for i, t in enumerate(pending)}
    step = 0
    while pending or in_flight:
        for finish_at, ticket in [f for f in in_flight if f[0] <= clock.now]:
            schedule.finish(ticket)
            done[order[id(ticket)]] = clock.now
            in_flight.remove((finish_at, ticket))
        waits = []
        for ticket in list(pending):
            wait = schedule.wait(ticket)
            if wait == 0:
                pending.remove(ticket)
                sent[order[id(ticket)]] = clock.now
                latency = 0.05 + 0.3 * ((step * 7919) % 11) / 10  # 50..350 ms, uneven
                in_flight.append((clock.now + latency, ticket))
                step += 1
            else:
                waits.append(wait)
        next_done = [f[0] - clock.now for f in in_flight]
        clock.now += min([w for w in waits + next_done if w > 0], default=0.01)
    assert len(sent) == 60
    assert all(sent[i + 5] >= done[i] + 1.0 - 1e-9 for i in range(55))


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


@pytest.mark.parametrize(
    ("status", "body", "kind", "error_type", "message"),
    [
        (401, {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}},
         AirtableAuthError, "AUTHENTICATION_REQUIRED", "Authentication required"),
        (403, {"error": {"type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "message": "no"}},
         AirtableAuthError, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "no"),
        (404, {"error": "NOT_FOUND"}, AirtableNotFoundError, "NOT_FOUND", "Airtable answered 404"),
        (422, {"error": {"type": "INVALID_RECORDS", "message": "too many"}},
         AirtableValidationError, "INVALID_RECORDS", "too many"),
        (429, {"errors": [{"error": "RATE_LIMIT_REACHED", "message": "slow down"}]},
         AirtableRateLimitError, "RATE_LIMIT_REACHED", "slow down"),
        (502, None, AirtableServerError, None, "Airtable answered 502"),
    ],
)  # fmt: skip
def test_airtable_error_bodies_become_typed_errors(
    status: int, body: Any, kind: type, error_type: str | None, message: str
) -> None:
    raw = b"<html>bad gateway</html>" if body is None else json.dumps(body).encode()
    error = error_from_response(HttpResponse(status, {}, raw))
    assert type(error) is kind
    assert (error.status, error.error_type, error.message) == (status, error_type, message)
    assert str(error).startswith(f"HTTP {status}")


def test_wompi_error_bodies_become_typed_errors() -> None:
    body = {"error": {"type": "INPUT_VALIDATION_ERROR",
                      "messages": {"reference": ["La referencia ya ha sido usada"]}}}  # fmt: skip
    error = wompi_error(HttpResponse(422, {}, json.dumps(body).encode()))
    assert isinstance(error, WompiValidationError) and error.field == "reference"
    assert "ya ha sido usada" in error.message
    assert isinstance(wompi_error(HttpResponse(503, {}, b"")), WompiServerError)
