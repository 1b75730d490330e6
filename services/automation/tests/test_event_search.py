"""GET /api/v1/events by type and time (since/until) on PostgreSQL, with paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update

from automation.models import Event

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_events_filtered_by_type_and_time_range_with_paging(client, auth, runtime) -> None:
    ids: list[str] = []
    for i in range(30):  # one event per hour from BASE; even ones are "a.b", odd "c.d"
        body = {"event_type": "a.b" if i % 2 == 0 else "c.d", "data": {"i": i}}
        r = await client.post("/api/v1/events", headers=auth, json=body)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    async with runtime.database.session() as session:
        for i, eid in enumerate(ids):
            await session.execute(
                update(Event).where(Event.id == eid).values(created_at=BASE + timedelta(hours=i))
            )
        await session.commit()

    async def listed(**params: object) -> dict:
        r = await client.get("/api/v1/events", headers=auth, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    # hours 5..24 inclusive of since, exclusive of until; an offset-bearing until
    until = (BASE + timedelta(hours=25)).astimezone(ZoneInfo("America/Bogota"))
    window = {"since": (BASE + timedelta(hours=5)).isoformat(), "until": until.isoformat()}
    first = await listed(**window, limit=8)
    assert first["total"] == 20
    hours = [e["data"]["i"] for e in first["items"]]
    assert hours == list(range(24, 16, -1))  # newest first
    second = await listed(**window, limit=8, offset=8)
    assert [e["data"]["i"] for e in second["items"]] == list(range(16, 8, -1))
    last = await listed(**window, limit=8, offset=16)
    assert [e["data"]["i"] for e in last["items"]] == [8, 7, 6, 5]
    # with the type: only the odd hours in the range; a naive time reads as UTC
    typed = await listed(event_type="c.d", since="2026-03-01T17:00", until="2026-03-02T05:00")
    assert [e["data"]["i"] for e in typed["items"]] == [15, 13, 11, 9, 7, 5]
    assert typed["total"] == 6
    assert (await listed(since=(BASE + timedelta(days=2)).isoformat()))["total"] == 0
    assert (await listed(until=BASE.isoformat()))["total"] == 0


async def test_bad_since_or_until_is_422_naming_the_field(client, auth) -> None:
    bad = await client.get("/api/v1/events", headers=auth, params={"since": "yesterday"})
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["query.since"]
    bad = await client.get("/api/v1/events", headers=auth, params={"until": "2026-13-01T00:00"})
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["query.until"]
    east_of_year_one = {"since": "0001-01-01T00:00:00+01:00"}
    bad = await client.get("/api/v1/events", headers=auth, params=east_of_year_one)
    assert bad.status_code == 422
    assert bad.json()["problems"] == [{"field": "query.since", "message": "out of range in UTC"}]
    backwards = await client.get(
        "/api/v1/events",
        headers=auth,
        params={"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
    )
    assert backwards.status_code == 422
    assert backwards.json()["problems"] == [
        {"field": "query.until", "message": "must not be earlier than since"}
    ]
    instant = "2026-03-01T00:00:00Z"
    same = await client.get(
        "/api/v1/events", headers=auth, params={"since": instant, "until": instant}
    )
    assert same.status_code == 200 and same.json()["total"] == 0


async def test_time_range_uses_the_tenant_created_index(runtime) -> None:
    async with runtime.database.session() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in await session.execute(
                text(
                    "EXPLAIN SELECT * FROM events WHERE tenant_id = 'x' AND type = 'a'"
                    " AND created_at >= now() - interval '1 day' AND created_at < now()"
                    " ORDER BY created_at DESC, id LIMIT 25"
                )
            )
        )
    assert "ix_events_tenant_created" in plan, plan
