"""The Events page searches by type and time through a real automation API (embedded
SQLite, started as the other console tests start it): the API filters and pages; a
range it refuses shows its own text, escaped, on the page."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from automation.db import Database
from automation.models import Event
from mimeia.testing import free_port, run_server
from mimeia_console.app import create_app
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def automation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real automation API: (its address, its state directory)."""
    tmp = tmp_path_factory.mktemp("events-auto")
    port = free_port()
    mp = pytest.MonkeyPatch()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY",
                 "JWT_SECRET_KEY", "FLOWMESH_URL"):  # fmt: skip
        mp.delenv(name, raising=False)
    mp.setenv("ENV", "development")
    argv = ["python", "-m", "automation", "--state-dir", str(tmp), "serve",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    try:
        with run_server(argv, timeout=120):
            yield f"http://127.0.0.1:{port}", tmp
    finally:
        mp.undo()


@pytest.fixture
async def console(automation: tuple[str, Path]) -> AsyncIterator[httpx.AsyncClient]:
    settings = ConsoleSettings(automation_url=automation[0],
                               loopback_key_file=automation[1] / "internal_api_key")  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client
    await app.state.console.fm.close()


def shown(page: httpx.Response) -> list[int]:
    """The event numbers a page lists (each event's source is ``n<i>``)."""
    return [int(n) for n in re.findall(r"<td>n(\d+)</td>", page.text)]


async def test_events_are_searched_by_type_and_time_and_paged(
    console: httpx.AsyncClient, automation: tuple[str, Path]
) -> None:
    kind = f"bench.{uuid.uuid4().hex[:8]}"
    key = (automation[1] / "internal_api_key").read_text().strip()
    headers = {"X-Internal-API-Key": key, "X-Tenant-ID": "default"}
    ids = []
    async with httpx.AsyncClient(base_url=automation[0] + "/api/v1", headers=headers) as api:
        for i in range(60):  # one a minute from BASE; one in three of another type
            body = {"event_type": kind if i % 3 else "other.kind", "data": {}, "source": f"n{i}"}
            ids.append((await api.post("/events", json=body)).json()["id"])
    db = Database(f"sqlite+aiosqlite:///{automation[1]}/automation.db")
    try:
        async with db.session() as session:
            for i, eid in enumerate(ids):
                at = BASE + timedelta(minutes=i)
                await session.execute(update(Event).where(Event.id == eid).values(created_at=at))
            await session.commit()
    finally:
        await db.engine.dispose()

    # minutes 5..54 of the type: 33 events, newest first, 25 then 8
    form = {"event_type": kind, "since": "2026-03-01T12:05", "until": "2026-03-01T12:55"}
    first = await console.get("/events", params=form)
    assert first.status_code == 200, first.text
    expected = [i for i in range(54, 4, -1) if i % 3]
    assert shown(first) == expected[:25]
    assert 'type="datetime-local" value="2026-03-01T12:05"' in first.text
    assert '<label for="since">' in first.text and '<label for="until">' in first.text
    older = re.search(r'<a rel="next" href="\?([^"]+)"', first.text)
    assert older, first.text
    second = await console.get("/events?" + html.unescape(older.group(1)))
    assert shown(second) == expected[25:]
    assert 'rel="next"' not in second.text
    # the quick windows are links with a concrete since (nothing of 2026-03-01 is that recent)
    quick = re.findall(r'<a href="\?(event_type=[^"]*since=[^"]+)">15m</a>', first.text)
    assert quick, first.text
    recent = await console.get("/events?" + html.unescape(quick[0]))
    assert recent.status_code == 200 and shown(recent) == []


async def test_a_refused_range_shows_the_api_text_escaped(console: httpx.AsyncClient) -> None:
    evil = '"><script>alert(1)</script>'
    page = await console.get("/events", params={"since": evil})
    assert page.status_code == 422
    assert "query.since" in page.text
    assert "<script>alert(1)" not in page.text
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # kept in the form
    backwards = await console.get(
        "/events", params={"since": "2026-03-02T00:00", "until": "2026-03-01T00:00"}
    )
    assert backwards.status_code == 422
    assert "query.until: must not be earlier than since" in backwards.text
