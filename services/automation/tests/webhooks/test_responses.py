from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automation.webhooks import Verdict, classify_status, parse_retry_after


@pytest.mark.parametrize(
    "status, verdict",
    [(200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (299, Verdict.DELIVERED),
     (301, Verdict.RETRY), (302, Verdict.RETRY), (307, Verdict.RETRY), (400, Verdict.RETRY),
     (404, Verdict.RETRY), (410, Verdict.DISABLE_ENDPOINT), (429, Verdict.RETRY),
     (500, Verdict.RETRY), (503, Verdict.RETRY), (100, Verdict.RETRY)],
)  # fmt: skip
def test_only_2xx_is_delivered(status: int, verdict: Verdict) -> None:
    assert classify_status(status).verdict is verdict


def test_redirects_say_they_were_not_followed() -> None:
    assert "not followed" in classify_status(302).reason


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert classify_status(429, "30").retry_after == 30
    assert classify_status(503, "Thu, 01 Jan 2026 12:02:00 GMT", now=now).retry_after == 120
    assert classify_status(503, "Thu, 01 Jan 2026 11:00:00 GMT", now=now).retry_after == 0
    assert classify_status(500, "30").retry_after is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None
