"""Against a real automation service (API + embedded worker, on PostgreSQL): Cancel
through the console, the one-time sealed flash message every action's redirect
carries, and a notification's preview showing the message as it was sent."""

from __future__ import annotations

import asyncio
import html
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from automation.webhooks.testing import scratch_database
from mimeia.ports import free_port
from mimeia.testing.servers import run_server
from mimeia_console import auth
from mimeia_console.app import create_app
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

FLASH = re.compile(r'<p class="flash (ok|error)" role="(?:status|alert)">(.*?)</p>', re.S)


@pytest.fixture(scope="module")
def automation(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[tuple[str, str]]:
    """A real automation service with its embedded worker on this run's PostgreSQL
    database (no dev sinks): (address, internal key)."""
    tmp = tmp_path_factory.mktemp("cancel-auto")
    port = free_port()
    mp = pytest.MonkeyPatch()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY",
                 "JWT_SECRET_KEY", "FLOWMESH_URL"):  # fmt: skip
        mp.delenv(name, raising=False)
    mp.setenv("ENV", "development")
    mp.setenv("SCHEDULER_INTERVAL_SECONDS", "0.5")
    argv = ["python", "-m", "automation", "--state-dir", str(tmp), "serve", "--with-worker",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    try:
        # a database of its own: this state dir's secrets key opens everything in it
        with scratch_database(postgres_url) as database_url:
            mp.setenv("DATABASE_URL", database_url)
            with run_server(argv):
                yield f"http://127.0.0.1:{port}", (tmp / "internal_api_key").read_text().strip()
    finally:
        mp.undo()


@pytest.fixture
async def console(automation: tuple[str, str], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url, key = automation
    (tmp_path / "internal_api_key").write_text(key)  # loopback sign-in with the real key
    nowhere = f"http://127.0.0.1:{free_port()}"  # no dev sinks, as when deployed
    settings = ConsoleSettings(loopback_key_file=tmp_path / "internal_api_key",
                               automation_url=url, smtp_sink_url=nowhere,
                               sms_sink_url=nowhere)  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client
    await app.state.console.fm.close()
    await app.state.console.http.aclose()


def _flashes(page: httpx.Response) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text)) for kind, text in FLASH.findall(page.text)]


async def _press(console: httpx.AsyncClient, page: str, action: str) -> httpx.Response:
    shown = await console.get(page)
    found = re.search(r'name="csrf" value="([^"]+)"', shown.text)
    assert found, shown.text
    answer = await console.post(action, data={"csrf": found.group(1)})
    assert answer.status_code == 303, answer.text
    # the message is in a sealed cookie, never in the address
    assert answer.headers["location"] == page
    assert auth.FLASH_COOKIE in answer.headers["set-cookie"]
    return await console.get(answer.headers["location"])


async def _waiting_execution(api: httpx.AsyncClient) -> str:
    workflow = await api.post("/workflows", json={
        "name": f"wait {uuid.uuid4().hex[:6]}",
        "steps": [{"id": "nap", "type": "delay", "config": {"seconds": 3600}}],
    })  # fmt: skip
    assert workflow.status_code == 201, workflow.text
    started = await api.post(f"/workflows/{workflow.json()['id']}/execute", json={})
    assert started.status_code in (200, 201, 202), started.text
    eid = str(started.json()["id"])
    deadline = time.monotonic() + 30
    while (execution := (await api.get(f"/workflows/executions/{eid}")).json())[
        "status"
    ] != "waiting":  # the real worker ran it up to its delay
        assert time.monotonic() < deadline, execution
        await asyncio.sleep(0.2)
    return eid


async def test_cancel_goes_through_the_api_and_a_refusal_shows_its_words(
    console: httpx.AsyncClient, automation: tuple[str, str]
) -> None:
    url, key = automation
    headers = {"X-Internal-API-Key": key, "X-Tenant-ID": "default"}
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers, timeout=10) as api:
        eid = await _waiting_execution(api)
        page = f"/executions/{eid}"
        before = await console.get(page)
        assert "waits until" in before.text and 'class="wait"' in before.text  # the timeline
        shown = await _press(console, page, f"{page}/cancel")
        assert _flashes(shown) == [("ok", "Cancelled")]
        assert (await api.get(f"/workflows/executions/{eid}")).json()["status"] == "cancelled"
        assert "cancelled" in shown.text and f"{page}/cancel" not in shown.text
        # shown once: the next visit has no message
        assert _flashes(await console.get(page)) == []

        # a second cancel (e.g. from a stale tab): automation refuses, the page says why
        stale = await console.get("/workflows")
        csrf = re.search(r'name="csrf" value="([^"]+)"', stale.text)
        assert csrf, stale.text
        answer = await console.post(f"{page}/cancel", data={"csrf": csrf.group(1)})
        assert answer.status_code == 303
        refused = await console.get(answer.headers["location"])
        assert _flashes(refused) == [
            ("error", f"cancel refused: execution {eid} is already cancelled")
        ]


async def test_a_crafted_link_puts_no_text_on_a_page(console: httpx.AsyncClient) -> None:
    for query in ({"error": "Your session expired: sign in at evil.example"},
                  {"ok": "Payment confirmed"}):  # fmt: skip
        page = await console.get("/workflows", params=query)
        assert page.status_code == 200
        assert _flashes(page) == [] and "evil.example" not in page.text
        assert "Payment confirmed" not in page.text
    # a cookie this console did not seal (forged, or sealed with another key) shows nothing
    other = auth.SessionCodec("another-secret", 60).dump_flash("", "forged words")
    for value in ("forged words", other):
        console.cookies.set(auth.FLASH_COOKIE, value)
        assert _flashes(await console.get("/workflows")) == []
    console.cookies.clear()


def test_a_flash_is_sealed_capped_and_expires() -> None:
    codec = auth.SessionCodec("secret-1", 3600)
    sealed = codec.dump_flash("done", "")
    assert "done" not in sealed and codec.load_flash(sealed) == ("done", "")
    assert codec.load_flash(sealed[:-4] + "AAAA") is None
    # a session cookie is not a flash and a flash is not a session
    session = codec.dump(auth.Credentials("key", "k", "acme", "internal key"))
    assert codec.load_flash(session) is None and codec.load(sealed) is None
    huge = codec.dump_flash("", "é" * 5000)
    assert len(huge) < 4000
    ok, error = codec.load_flash(huge) or ("", "")
    assert ok == "" and error.startswith("é") and len(error.encode()) <= auth.FLASH_MAX_BYTES


async def test_a_notification_preview_shows_what_was_sent_sanitized(
    console: httpx.AsyncClient, automation: tuple[str, str]
) -> None:
    url, key = automation
    headers = {"X-Internal-API-Key": key, "X-Tenant-ID": "default"}
    name = f"receipt_{uuid.uuid4().hex[:6]}"
    template = {"name": name, "channel": "email", "subject": "Receipt for {{ who }}",
                "body": "Paid {{ amount }} by {{ who }}.",
                "html_body": '<p onclick="x()">Paid <b>{{ amount }}</b></p>'
                             '<script>alert(1)</script><img src="https://t.example">'}  # fmt: skip
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers, timeout=10) as api:
        made = await api.post("/notifications/templates", json=template)
        assert made.status_code == 201, made.text
        sent = await api.post("/notifications/email", json={
            "to": ["ada@example.com"], "template_id": name,
            "template_data": {"who": "Ada", "amount": "42.00 EUR"}})  # fmt: skip
        assert sent.status_code == 202, sent.text
        nid = sent.json()["notifications"][0]["id"]
    page = await console.get(f"/notifications/{nid}")
    assert page.status_code == 200
    assert "<strong>Receipt for Ada</strong>" in page.text
    assert "Paid 42.00 EUR by Ada." in page.text  # the text part, with the data it was sent with
    assert "rendered with no data" not in page.text
    assert f'sandbox src="/notifications/{nid}/preview"' in page.text
    preview = await console.get(f"/notifications/{nid}/preview")
    assert preview.status_code == 200
    policy = preview.headers["content-security-policy"]
    assert "sandbox" in policy and "img-src data:;" in policy  # no remote loads either
    assert "Paid <b>42.00 EUR</b>" in preview.text
    for gone in ("<script", "onclick", "alert(1)"):
        assert gone not in preview.text
    # another tenant's session reads nothing of it (automation decides)
    console.cookies.set("console_tenant", "someone-else")
    assert (await console.get(f"/notifications/{nid}")).status_code == 404
    assert (await console.get(f"/notifications/{nid}/preview")).status_code == 404
    console.cookies.clear()
