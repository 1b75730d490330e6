"""Cron schedules (stored in the database, fired by the scheduler tick)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


def cron_problems(expression: object, timezone: object, where: str) -> list[str]:
    problems = []
    if not isinstance(expression, str) or not croniter.is_valid(expression):
        problems.append(f"{where}.cron: not a valid cron expression (e.g. '*/5 * * * *')")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{where}.timezone: unknown time zone {timezone!r}")
    return problems


def next_fire(expression: str, after: datetime, timezone: str | None = None) -> datetime:
    """The first time after ``after`` that ``expression`` fires (UTC-aware result)."""
    zone = ZoneInfo(timezone or "UTC")
    local = after.astimezone(zone)
    nxt: datetime = croniter(expression, local).get_next(datetime)
    return nxt.astimezone(ZoneInfo("UTC"))
