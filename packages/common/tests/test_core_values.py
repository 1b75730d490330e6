from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from common_core.log_manager import configure_logging, log_context
from common_core.serialization import dumps, to_jsonable
from common_core.temporal import (
    DateParseError,
    parse_datetime,
    parse_slack_ts,
    to_slack_ts,
)
from common_core.timing import Timing, timed
from common_core.validators import NonEmptyStr, PositiveNumber


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-15T10:00:00Z", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("2024-01-15T12:00:00+02:00", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("2024-01-15 10:00:00", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("15/01/2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("15.01.2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("20240115", datetime(2024, 1, 15, tzinfo=UTC)),
        ("Jan 15, 2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("15 January 2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("Mon, 15 Jan 2024 10:00:00 GMT", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        (1705312800, datetime(2024, 1, 15, 10, tzinfo=UTC)),
        (1705312800000, datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("1705312800.000100", datetime(2024, 1, 15, 10, 0, 0, 100, tzinfo=UTC)),
        (date(2024, 1, 15), datetime(2024, 1, 15, tzinfo=UTC)),
    ],
)
def test_parse_datetime_formats(raw: object, expected: datetime) -> None:
    parsed = parse_datetime(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_naive_values_read_in_assumed_zone() -> None:
    bogota = timezone(timedelta(hours=-5))
    assert parse_datetime("2024-01-15 05:00:00", assume_tz=bogota) == datetime(
        2024, 1, 15, 10, tzinfo=UTC
    )


@pytest.mark.parametrize("bad", ["", "   ", "not a date", "2024-13-45", True, None, [1]])
def test_parse_datetime_rejects(bad: object) -> None:
    with pytest.raises(DateParseError):
        parse_datetime(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a year alone is ISO 8601's reduced precision, never 2024 seconds after 1970
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("1999", datetime(1999, 1, 1, tzinfo=UTC)),
        ("20240115", datetime(2024, 1, 15, tzinfo=UTC)),
        ("1705312800", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("1705312800000", datetime(2024, 1, 15, 10, tzinfo=UTC)),
        ("946684800", datetime(2000, 1, 1, tzinfo=UTC)),
    ],
)
def test_digit_strings_are_read_by_their_length(raw: str, expected: datetime) -> None:
    assert parse_datetime(raw) == expected


@pytest.mark.parametrize("bad", ["7", "42", "123", "12345", "123456", "1234567", "2024.5",
                                 "12345678901234", "20241345", "1705312800\n1"])  # fmt: skip
def test_short_or_odd_digit_strings_are_not_epoch_time(bad: str) -> None:
    with pytest.raises(DateParseError):
        parse_datetime(bad)


def test_slack_ts_needs_the_whole_string() -> None:
    with pytest.raises(DateParseError, match="Slack ts"):
        parse_slack_ts("1700000000.000200 junk")


def test_slack_ts_round_trip_is_exact() -> None:
    assert to_slack_ts(parse_slack_ts("1700000000.000200")) == "1700000000.000200"
    assert parse_slack_ts("1700000000") == datetime.fromtimestamp(1700000000, UTC)
    with pytest.raises(DateParseError, match="Slack ts"):
        parse_slack_ts("17000.abc")


@given(st.integers(0, 4_000_000_000), st.integers(0, 999_999))
def test_slack_ts_property(seconds: int, micros: int) -> None:
    ts = f"{seconds}.{micros:06d}"
    assert to_slack_ts(parse_slack_ts(ts)) == ts


class Color(Enum):
    RED = "red"


class Item(BaseModel):
    name: str
    when: datetime


@dataclass
class Point:
    x: int


def test_serialization_of_complex_values() -> None:
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    value = {
        "when": datetime(2024, 1, 15, 10, tzinfo=UTC),
        "day": date(2024, 1, 15),
        "tags": {"b", "a"},
        "price": Decimal("19.990"),
        "id": uid,
        "color": Color.RED,
        "item": Item(name="x", when=datetime(2024, 1, 1, tzinfo=UTC)),
        "point": Point(3),
        "blob": b"\x00\x01",
        "wait": timedelta(seconds=90),
    }
    assert to_jsonable(value) == {
        "when": "2024-01-15T10:00:00+00:00",
        "day": "2024-01-15",
        "tags": ["a", "b"],
        "price": "19.990",
        "id": str(uid),
        "color": "red",
        "item": {"name": "x", "when": "2024-01-01T00:00:00Z"},
        "point": {"x": 3},
        "blob": "AAE=",
        "wait": 90.0,
    }
    assert json.loads(dumps({"ñ": 1}, indent=2)) == {"ñ": 1}


def test_serialization_rejects_unknown_types() -> None:
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        dumps({"x": object()})


class Order(BaseModel):
    amount: PositiveNumber
    customer: NonEmptyStr


def test_validators_accept_and_strip() -> None:
    order = Order(amount=3.5, customer="  Ana ")
    assert order.customer == "Ana"


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("amount", {"amount": 0, "customer": "a"}),
        ("amount", {"amount": -1, "customer": "a"}),
        ("amount", {"amount": float("nan"), "customer": "a"}),
        ("amount", {"amount": "abc", "customer": "a"}),
        ("customer", {"amount": 1, "customer": "   "}),
        ("customer", {"amount": 1, "customer": 5}),
    ],
)
def test_validators_reject_naming_the_field(field: str, payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as info:
        Order.model_validate(payload)
    assert info.value.errors()[0]["loc"] == (field,)


def test_json_logging_with_context_and_masking() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test.json")
    logger.propagate = False
    configure_logging("DEBUG", static_fields={"service": "svc"}, stream=stream, logger=logger)
    with log_context(org_id="org-1"):
        logger.info("hello %s", "world", extra={"api_token": "s3cr3t", "count": 2})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "hello world"
    assert first["service"] == "svc"
    assert first["org_id"] == "org-1"
    assert first["api_token"] == "***"
    assert first["count"] == 2
    assert "org_id" not in second
    assert "ValueError: boom" in second["exception"]
    assert "s3cr3t" not in stream.getvalue()


def test_timed_sync_and_async_report_even_on_error() -> None:
    seen: list[Timing] = []

    @timed(on_done=seen.append)
    def add(a: int, b: int) -> int:
        return a + b

    @timed(name="slow", on_done=seen.append)
    async def wait() -> str:
        await asyncio.sleep(0.01)
        return "ok"

    @timed(on_done=seen.append)
    def broken() -> None:
        raise RuntimeError("x")

    assert add(1, 2) == 3
    assert asyncio.run(wait()) == "ok"
    with pytest.raises(RuntimeError):
        broken()
    assert [t.name.rsplit(".", 1)[-1] for t in seen] == ["add", "slow", "broken"]
    assert [t.ok for t in seen] == [True, True, False]
    assert seen[1].seconds >= 0.01
    assert add.__name__ == "add"


def test_timed_bare_logs(caplog: pytest.LogCaptureFixture) -> None:
    @timed
    def work() -> int:
        return 1

    with caplog.at_level(logging.DEBUG, logger="common_core.timing"):
        work()
    assert "work took" in caplog.text
