"""A circuit breaker per endpoint: stop hammering a receiver that is down, probe
it now and then, and catch up as soon as it answers.

- **Closed** (``circuit_open_until`` is NULL): deliveries go out as they come due.
  Each failed attempt adds one to ``consecutive_failures``; a success resets it.
- **Open**: ``threshold`` failures in a row open the circuit until
  ``circuit_open_until``. Deliveries to the endpoint are not claimed meanwhile:
  they stay due in the database and cost nothing.
- **Probe**: when ``circuit_open_until`` passes, one worker wins the probe (a
  conditional UPDATE moves ``circuit_open_until`` to the next probe time) and
  sends the endpoint's oldest due delivery. A failure keeps the circuit open;
  the next probe waits a quarter of the time the circuit has been open
  (``probe_seconds`` at least, ``max_probe_seconds`` at most): a dead endpoint
  costs one request per interval, not one per message, and one that comes back
  is found within a quarter of its outage.
- **Close and drain**: the first success after failures closes the circuit and
  makes every pending delivery of the endpoint due at once, in the order the
  messages were created, so recovery takes seconds instead of the next slot of
  the retry schedule.

The state lives in the endpoint row, so every worker sees the same circuit.
:class:`BreakerPolicy` is the arithmetic, free of I/O; the functions below are
the statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from automation.webhooks.models import WebhookDelivery, WebhookEndpoint

_endpoints = cast(Table, WebhookEndpoint.__table__)
_deliveries = cast(Table, WebhookDelivery.__table__)


@dataclass(frozen=True)
class BreakerPolicy:
    """When a circuit opens and how often an open one is probed."""

    threshold: int = 5
    probe_seconds: float = 2.0
    max_probe_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("breaker threshold: at least one failure")
        if not 0 < self.probe_seconds <= self.max_probe_seconds:
            raise ValueError("breaker probe interval: 0 < probe_seconds <= max_probe_seconds")

    def opens(self, consecutive_failures: int) -> bool:
        return consecutive_failures >= self.threshold

    def probe_interval(self, open_for: float) -> float:
        """Seconds until the next probe of a circuit open for ``open_for`` seconds:
        ``probe_seconds`` at first, then a quarter of the time it has been open
        (growing by a quarter with every failed probe), capped. A receiver that
        comes back is found within a quarter of its outage (or the cap)."""
        return min(self.max_probe_seconds, max(self.probe_seconds, open_for / 4))

    def next_probe_at(self, opened_at: datetime | None, now: datetime) -> datetime:
        open_for = 0.0 if opened_at is None else (now - opened_at).total_seconds()
        return now + timedelta(seconds=self.probe_interval(open_for))


def not_blocked(now: datetime) -> ColumnElement[bool]:
    """A claim condition: the delivery's endpoint is not open (or its probe is due)."""
    return not_(
        exists().where(
            _endpoints.c.id == WebhookDelivery.endpoint_id,
            _endpoints.c.circuit_open_until > now,
        )
    )


async def take_probe(
    session: AsyncSession, endpoint_id: str, now: datetime, policy: BreakerPolicy
) -> bool:
    """Win the probe of an open endpoint whose probe is due (only one worker does):
    the next probe moves out meanwhile, so the rest of its deliveries stay put."""
    opened_at = await session.scalar(
        select(_endpoints.c.circuit_opened_at).where(_endpoints.c.id == endpoint_id)
    )
    won = await session.execute(
        update(_endpoints)
        .where(
            _endpoints.c.id == endpoint_id,
            _endpoints.c.circuit_open_until.is_not(None),
            _endpoints.c.circuit_open_until <= now,
        )
        .values(circuit_open_until=policy.next_probe_at(opened_at, now))
        .returning(_endpoints.c.id)
    )
    return won.first() is not None


async def record(
    session: AsyncSession,
    endpoint_id: str,
    *,
    successes: int,
    failures: int,
    now: datetime,
    policy: BreakerPolicy,
) -> bool:
    """Count a batch's results for one endpoint; True when a success just closed a
    failing endpoint's circuit and its backlog was made due (drain it now)."""
    if successes:
        closed = await session.execute(
            update(_endpoints)
            .where(
                _endpoints.c.id == endpoint_id,
                (_endpoints.c.consecutive_failures > 0)
                | _endpoints.c.circuit_open_until.is_not(None),
            )
            .values(consecutive_failures=0, circuit_open_until=None, circuit_opened_at=None)
            .returning(_endpoints.c.id)
        )
        if closed.first() is None:
            return False
        await pull_forward(session, endpoint_id, now)
        return True
    if not failures:
        return False
    row = (
        await session.execute(
            update(_endpoints)
            .where(_endpoints.c.id == endpoint_id)
            .values(consecutive_failures=_endpoints.c.consecutive_failures + failures)
            .returning(_endpoints.c.consecutive_failures, _endpoints.c.circuit_opened_at)
        )
    ).first()
    if row is not None and policy.opens(row[0]):
        opened_at = row[1]
        values: dict[str, Any] = {"circuit_open_until": policy.next_probe_at(opened_at, now)}
        if opened_at is None:
            values["circuit_opened_at"] = now
        await session.execute(
            update(_endpoints).where(_endpoints.c.id == endpoint_id).values(values)
        )
    return False


async def pull_forward(session: AsyncSession, endpoint_id: str, now: datetime) -> None:
    """Make every pending delivery of the endpoint due now, oldest message first
    (a delivery's creation time is in the past, so it sorts before later ones)."""
    values: dict[str, Any] = {"next_attempt_at": _deliveries.c.created_at}
    await session.execute(
        update(_deliveries)
        .where(
            and_(
                _deliveries.c.endpoint_id == endpoint_id,
                _deliveries.c.status == "pending",
                _deliveries.c.next_attempt_at > now,
            )
        )
        .values(values)
    )
