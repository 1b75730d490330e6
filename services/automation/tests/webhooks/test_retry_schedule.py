from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automation.webhooks import DEFAULT_SCHEDULE_SECONDS, RetrySchedule


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def advance(self, until: datetime) -> None:
        assert until >= self.now
        self.now = until


def test_default_schedule_is_the_documented_one() -> None:
    assert DEFAULT_SCHEDULE_SECONDS == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert RetrySchedule().max_attempts == 8


def test_attempts_follow_the_schedule_without_jitter() -> None:
    clock = Clock()
    start = clock.now
    schedule = RetrySchedule(jitter=0.0)
    due: list[float] = []
    attempts = 0
    while True:
        nxt = schedule.next_attempt_at(attempts, clock.now)
        if nxt is None:
            break
        due.append((nxt - clock.now).total_seconds())
        clock.advance(nxt)
        attempts += 1
    assert due == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert clock.now - start == timedelta(seconds=sum(DEFAULT_SCHEDULE_SECONDS))


@pytest.mark.parametrize("rand, factor", [(0.0, 0.9), (0.5, 1.0), (0.999999, 1.1)])
def test_jitter_stays_within_its_fraction(rand: float, factor: float) -> None:
    schedule = RetrySchedule(jitter=0.1, rand=lambda: rand)
    assert schedule.wait_before(3) == pytest.approx(300 * factor, rel=1e-4)
    assert schedule.wait_before(1) == 0


def test_retry_after_stretches_the_wait_but_is_capped() -> None:
    schedule = RetrySchedule(jitter=0.0)
    assert schedule.wait_before(2, retry_after=120) == 120
    assert schedule.wait_before(3, retry_after=10) == 300
    assert schedule.wait_before(2, retry_after=10**9) == 36000


def test_configured_schedule() -> None:
    schedule = RetrySchedule.parse("0, 1, 2", jitter=0)
    assert schedule.delays == (0, 1, 2)
    assert schedule.wait_before(4) is None


@pytest.mark.parametrize("bad", ["", "a,b", "1,-5"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="retry schedule"):
        RetrySchedule.parse(bad)


def test_bad_jitter_and_attempt_numbers() -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetrySchedule(jitter=1.5)
    with pytest.raises(ValueError):
        RetrySchedule().wait_before(0)
