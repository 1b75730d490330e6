"""The console in a real browser over a real platform (see conftest): find a failed
execution from the home page and rerun it, live-tail a stream, read an email, check
that nothing a service returns can inject markup, and that no page logs an error."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from flowmesh import FlowMesh
from flowmesh.types import Event, RetryPolicy
from mimeia.services import discover_services, order_by_dependencies
from mimeia.supervisor import start_all, stop_all
from mimeia.testing import free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAMES = ("flowmesh", "smtp-sink", "sms-sink", "automation", "console")
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Platform:
    console: str  # http://127.0.0.1:PORT
    automation: str
    flowmesh: str  # host:port
    state: Path

    @property
    def key(self) -> str:
        return (self.state / "automation" / "internal_api_key").read_text().strip()

    def api(self, tenant: str = "default") -> httpx.Client:
        return httpx.Client(
            base_url=self.automation + "/api/v1",
            timeout=10,
            headers={"X-Internal-API-Key": self.key, "X-Tenant-ID": tenant},
        )


def in_thread(coro: Any) -> Any:
    """Run a coroutine to the end (Playwright's sync API owns this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got):
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.2)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    mp = pytest.MonkeyPatch()
    state = tmp_path_factory.mktemp("mimeia-up")
    ports = {name: free_port() for name in NAMES} | {"smtp-web": free_port()}
    ports["flowmesh-http"] = free_port()
    for name in NAMES:
        mp.setenv(f"MIMEIA_{name.upper().replace('-', '_')}_PORT", str(ports[name]))
    mp.setenv("MIMEIA_SMTP_SINK_WEB_PORT", str(ports["smtp-web"]))
    # every port the platform opens is free, so a running `mimeia up` cannot collide
    mp.setenv("MIMEIA_FLOWMESH_HTTP_PORT", str(ports["flowmesh-http"]))
    # the embedded defaults, as on a developer machine with nothing configured
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "INTERNAL_API_KEY",
        "JWT_SECRET_KEY",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMS_PROVIDERS",
        "FLOWMESH_URL",
    ):
        mp.delenv(name, raising=False)
    mp.setenv("ENV", "development")
    mp.setenv("SCHEDULER_INTERVAL_SECONDS", "0.5")
    mp.setenv("CONSOLE_METRICS_INTERVAL_SECONDS", "1")
    specs = order_by_dependencies([s for s in discover_services() if s.name in NAMES])
    running = start_all(specs, state)
    try:
        yield Platform(
            f"http://127.0.0.1:{ports['console']}",
            f"http://127.0.0.1:{ports['automation']}",
            f"127.0.0.1:{ports['flowmesh']}",
            state,
        )
    finally:
        stop_all(running)
        mp.undo()


# module scope: Playwright's sync API runs an event loop on this thread while it is
# open, which would stop later modules' asyncio tests from running theirs
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` "
            "(bash scripts/test.sh installs it)"
        )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Page:
    """A browser page with the console errors and dialogs it saw."""

    page: Any
    console_errors: list[str]
    dialogs: list[str]
    shots: Path

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, platform: Platform, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(
        base_url=platform.console, viewport={"width": 1280, "height": 900}
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    dialogs: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        yield Page(tab, errors, dialogs, shots)
    finally:
        context.close()


SCRIPT = "<script>window.__pwned=1;alert('pwned')</script><img src=x onerror=alert(2)>"


def _failing_workflow(platform: Platform, name: str) -> tuple[str, str]:
    """A workflow whose second step fails (a required field is missing); its execution."""
    with platform.api() as api:
        workflow = api.post("/workflows", json={
            "name": name,
            "steps": [
                {"id": "prepare", "type": "data_transform", "config": {"output": {"ok": True}}},
                {"id": "charge", "type": "data_transform",
                 "config": {"require": ["card.number"], "output": "charged"},
                 "retry": {"max_attempts": 1}},
            ],
        })  # fmt: skip
        assert workflow.status_code == 201, workflow.text
        wid = workflow.json()["id"]
        execution = api.post(f"/workflows/{wid}/execute", json={"input_data": {}}).json()
        poll(lambda: api.get(f"/workflows/executions/{execution['id']}").json(),
             lambda e: e["status"] == "failed")  # fmt: skip
    return wid, execution["id"]


def test_failed_execution_is_found_from_home_and_rerun(page: Page, platform: Platform) -> None:
    _wid, eid = _failing_workflow(platform, f"checkout {uuid.uuid4().hex[:6]}")
    tab = page.page
    tab.goto("/")
    page.shot("home")
    # the home page lists it among the last hour's failures: click through to it
    tab.locator("table.failures").get_by_role("link", name=re.compile(eid[:8])).click()
    expect(tab.locator("h1")).to_contain_text(eid)
    cause = tab.locator("section.cause")
    expect(cause).to_contain_text("charge")
    expect(cause).to_contain_text("required data missing: card.number")
    page.shot("execution-failed")
    tab.get_by_role("button", name="Rerun from the failed step").click()
    expect(tab.locator(".flash.ok")).to_contain_text("Rerun started")
    # the new run is the same execution's run 2 (it fails again: the data is still missing)
    expect(tab.locator("main")).to_contain_text("run 2", timeout=15_000)
    page.shot("execution-rerun")
    # the tenant picker: another tenant sees none of it (the API decides, per tenant)
    tab.get_by_label("Tenant").fill("elsewhere")
    tab.get_by_role("button", name="Switch").click()
    expect(tab.locator(".flash.error")).to_contain_text("not found")
    tab.goto("/workflows")
    expect(tab.locator("main")).not_to_contain_text("checkout")
    tab.get_by_label("Tenant").fill("default")
    tab.get_by_role("button", name="Switch").click()
    expect(tab.locator("main")).to_contain_text("checkout")
    # the only browser error: the 404 of the execution page seen from the other tenant
    assert [e for e in page.console_errors if "404" not in e] == []


def test_live_tail_shows_a_new_message_within_two_seconds(page: Page, platform: Platform) -> None:
    stream = f"tail{uuid.uuid4().hex[:6]}"

    async def write(payload: dict[str, Any]) -> float:
        """Write one message; the moment just before the write."""
        async with FlowMesh(endpoint=platform.flowmesh, timeout=5) as client:
            started = time.monotonic()
            await client.stream.write(
                "default",
                "console",
                stream,
                [Event(payload=json.dumps(payload).encode(), headers={"source": "test"})],
            )
            return started

    in_thread(write({"n": 0}))
    tab = page.page
    tab.goto(f"/flowmesh/streams/console/{stream}")
    tab.get_by_role("button", name="Live tail").click()
    expect(tab.locator("[data-tail-state]")).to_contain_text("live")
    written = in_thread(write({"n": 1, "marker": "tail-me"}))
    expect(tab.locator("tr.tailed")).to_contain_text("tail-me", timeout=2_000)
    assert time.monotonic() - written < 2.0
    page.shot("stream-live-tail")
    assert page.console_errors == []


def test_an_email_sent_is_found_in_the_mail_view(page: Page, platform: Platform) -> None:
    subject = f"Invoice {uuid.uuid4().hex[:8]}"
    with platform.api() as api:
        sent = api.post("/notifications/email", json={
            "to": ["grace@example.com"], "subject": subject, "body": "Your invoice is attached.",
            "html_body": "<p>Your <b>invoice</b> is attached.</p>",
        })  # fmt: skip
        assert sent.status_code == 202, sent.text
    tab = page.page
    tab.goto("/mail")
    link = tab.get_by_role("link", name=subject)
    poll(lambda: (tab.reload(), link.count())[1], lambda n: n == 1, timeout=20)
    link.click()
    expect(tab.locator("pre.mail-text")).to_contain_text("Your invoice is attached.")
    frame = tab.frame_locator("iframe.preview")
    expect(frame.locator("b")).to_have_text("invoice")
    page.shot("mail-message")
    assert page.console_errors == []


def test_nothing_a_service_returns_can_inject_markup(page: Page, platform: Platform) -> None:
    """``<script>`` in an event payload, an email's subject/text/HTML, a stream message's
    payload and header, and a step's error text: shown as text, never run."""
    with platform.api() as api:
        event = api.post("/events", json={"event_type": "evil.thing",
                                          "data": {"name": SCRIPT}}).json()  # fmt: skip
        api.post("/notifications/email", json={
            "to": ["mallory@example.com"], "subject": f"hi {SCRIPT}", "body": SCRIPT,
            "html_body": f"<p>hello</p>{SCRIPT}<a href=\"javascript:alert(3)\">x</a>",
        }).raise_for_status()  # fmt: skip
        workflow = api.post("/workflows", json={"name": f"evil {SCRIPT}", "steps": [
            {"id": "boom", "type": "data_transform", "retry": {"max_attempts": 1},
             "config": {"require": [SCRIPT], "output": 1}}]}).json()  # fmt: skip
        execution = api.post(f"/workflows/{workflow['id']}/execute", json={}).json()
        poll(lambda: api.get(f"/workflows/executions/{execution['id']}").json(),
             lambda e: e["status"] == "failed")  # fmt: skip

    async def write() -> None:
        async with FlowMesh(endpoint=platform.flowmesh, timeout=5) as client:
            await client.stream.write("default", "console", "evil",
                                      [Event(payload=SCRIPT.encode(),
                                             headers={"x-evil": SCRIPT})])  # fmt: skip

    in_thread(write())
    tab = page.page
    tab.goto(f"/events/{event['id']}")
    expect(tab.locator("main pre").first).to_contain_text("<script>")
    tab.goto(f"/executions/{execution['id']}")
    expect(tab.locator("section.cause")).to_contain_text("<script>")
    tab.goto(f"/workflows/{workflow['id']}")
    tab.goto("/flowmesh/streams/console/evil")
    expect(tab.locator("main")).to_contain_text("x-evil: <script>")
    tab.goto("/mail")
    link = tab.get_by_role("link", name=re.compile("hi <script>"))
    poll(lambda: (tab.reload(), link.count())[1], lambda n: n == 1, timeout=20)
    link.click()
    expect(tab.locator("pre.mail-text")).to_contain_text("<script>")
    expect(tab.frame_locator("iframe.preview").locator("p")).to_have_text("hello")
    page.shot("escaped-mail")
    assert tab.evaluate("window.__pwned") is None
    assert page.dialogs == []
    # the sanitized preview keeps no script, handler or javascript: link
    preview = tab.request.get(tab.url + "/preview").text()
    assert "<script" not in preview and "onerror" not in preview
    assert "javascript:" not in preview


def test_a_dead_letter_is_replayed_and_a_kv_value_found(page: Page, platform: Platform) -> None:
    queue, store = f"jobs{uuid.uuid4().hex[:6]}", f"kv{uuid.uuid4().hex[:6]}"

    async def fill() -> str:
        async with FlowMesh(endpoint=platform.flowmesh, timeout=5) as client:
            await client.queue.set_retry_policy("default", "console", queue,
                                                RetryPolicy(max_attempts=1))  # fmt: skip
            await client.queue.enqueue("default", "console", queue, b'{"resize": 7}')
            job = await client.queue.reserve("default", "console", queue)
            assert job is not None
            await client.queue.nack("default", "console", queue, job.id, error="too large")
            await client.kv.set("default", "console", store, "greeting", b'{"hello": "kv"}')
            return job.id

    job_id = in_thread(fill())
    tab = page.page
    tab.goto(f"/flowmesh/queues/console/{queue}")
    row = tab.locator("tr", has_text=job_id)
    expect(row).to_contain_text("too large")
    page.shot("queue-dlq")
    row.get_by_role("button", name="Replay").click()
    expect(tab.locator(".flash.ok")).to_contain_text(f"Job {job_id} is back on the queue")
    expect(tab.locator("main")).to_contain_text("The DLQ is empty.")
    tab.goto(f"/flowmesh/kv/console/{store}?prefix=gr")
    tab.get_by_role("link", name="greeting").click()
    expect(tab.locator("main section pre")).to_contain_text('"hello": "kv"')
    assert page.console_errors == []


def test_every_page_renders_without_a_browser_error(page: Page, platform: Platform) -> None:
    """First steps end to end (set up, send, the trail), then every section's page."""
    tab = page.page
    tab.goto("/")
    tab.get_by_role("link", name="First steps").first.click()
    tab.get_by_role("button", name="Set up the sample").click()
    expect(tab.locator(".flash.ok")).to_contain_text("set up")
    tab.get_by_role("button", name="Send a sample event").click()
    trail = tab.locator("ul.happened")
    expect(trail).to_contain_text("in the inbox", timeout=30_000)
    expect(trail).to_contain_text("at offset", timeout=30_000)
    expect(trail).to_contain_text("the receiver got it")
    page.shot("first-steps")
    # the delivered webhook, sent once more through the API
    trail.get_by_role("link", name=re.compile("^message ")).click()
    tab.get_by_role("button", name="Resend").first.click()
    expect(tab.locator(".flash.ok")).to_contain_text("Resent (1 delivery)")
    page.shot("webhook-resent")
    visited = []
    for link in tab.locator("nav.side a").all():
        visited.append(link.get_attribute("href"))
    for href in [*visited, "/flowmesh/schemas", "/flowmesh/replay",
                 "/flowmesh/streams/console/orders"]:  # fmt: skip
        response = tab.goto(href)
        assert response is not None and response.status == 200, href
        expect(tab.locator("main h1")).to_be_visible()
        page.shot(href.strip("/").replace("/", "_") or "home")
    assert page.console_errors == []
    assert len(visited) >= 12


def test_outside_development_a_login_is_required_and_refusals_show_the_api_text(
    page: Page, platform: Platform
) -> None:
    """A production console (no loopback sign-in): a wrong key is refused with the API's
    words; a read-only token signs in, and its Rerun is refused with the API's reason."""
    from automation.auth import create_token

    _wid, eid = _failing_workflow(platform, f"login {uuid.uuid4().hex[:6]}")
    # a token check makes the service create its JWT secret (mode 0600, in its state)
    httpx.get(f"{platform.automation}/api/v1/workflows", headers={"Authorization": "Bearer x.y.z"})
    secret = (platform.state / "automation" / "jwt_secret_key").read_text().strip()
    token = create_token(secret, "ada", "default", ["workflows:read"])
    port = free_port()
    env = {
        "CONSOLE_ENV": "production",
        "CONSOLE_SESSION_SECRET": "s" * 40,
        "CONSOLE_AUTOMATION_URL": platform.automation,
        "CONSOLE_FLOWMESH_URL": platform.flowmesh,
        "CONSOLE_LOOPBACK_KEY_FILE": "",
    }  # fmt: skip  (empty: unset)
    with run_server(["python", "-m", "mimeia_console", "serve", "--port", str(port)], env=env):
        tab = page.page
        tab.goto(f"http://127.0.0.1:{port}/executions/{eid}")
        expect(tab).to_have_url(re.compile(r"/login\?next="))
        # every field has its label; the optional FlowMesh token is never shown as typed
        expect(tab.get_by_label("FlowMesh token (optional)")).to_have_attribute("type", "password")
        tab.get_by_label("Internal API key").fill("not-the-key")
        tab.get_by_label("Tenant").fill("default")
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator(".flash.error")).to_contain_text("X-Internal-API-Key: not valid")
        tab.get_by_label("Token (JWT)").fill(token)
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.locator("h1")).to_contain_text(eid)  # back where it was going
        expect(tab.locator("#tenant-picker")).to_have_text("default")  # one tenant: no picker
        tab.get_by_role("button", name="Rerun from the failed step").click()
        expect(tab.locator(".flash.error")).to_contain_text(
            "rerun refused: scope 'workflows:execute' required"
        )
        page.shot("refused-rerun")
        tab.get_by_role("button", name="Sign out").click()
        expect(tab).to_have_url(re.compile(r"/login$"))
    # the refused sign-in answered 400 (the browser logs that); nothing else went wrong
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
