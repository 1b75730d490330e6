"""FlowMesh with the user's own token: a real FlowMesh server started with
--require-auth and tokens made by `flowmesh token create`, a real automation API
to sign in against, and the console's ASGI app in between. What one token may not
do, the console does not do with another; FlowMesh's refusal is what the page says."""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flowmesh import Event, FlowMesh, FlowMeshAuthError, cli, token_cli
from flowmesh.types import RetryPolicy
from mimeia.testing import free_port, run_server
from mimeia_console import auth
from mimeia_console.app import create_app
from mimeia_console.clients.flowmesh_reads import ACCESS
from mimeia_console.clients.http import ServiceError
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration
T, NS = "acme", "ops"
SESSION_SECRET = "s" * 40


@dataclass
class Servers:
    flowmesh: str  # host:port
    automation: str  # http://host:port
    key: str  # the automation internal key
    tokens: dict[str, str]  # name -> FlowMesh token


def _create_token(store: str, *args: str) -> str:
    """`flowmesh token create ...` (the CLI's own code, in this process): the token."""
    parsed = cli._parser().parse_args(["token", "create", "--tenant", T, *args, "--store", store])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert asyncio.run(token_cli._run(parsed)) == 0
    return out.getvalue().strip()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("fm-creds")
    store = f"sqlite:///{tmp}/flowmesh.db"
    tokens = {
        "admin": _create_token(store),  # every permission: sets the scene up
        "full": _create_token(store, "--namespace", NS),
        "read_only": _create_token(
            store, "--namespace", NS, "--permission", "queue:read", "--permission", "stream:read"
        ),
        "elsewhere": _create_token(store, "--namespace", "elsewhere"),
        "console": _create_token(store, "--permission", "queue:read"),  # CONSOLE_FLOWMESH_TOKEN
    }
    fm_port, auto_port = free_port(), free_port()
    mp = pytest.MonkeyPatch()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY",
                 "JWT_SECRET_KEY", "FLOWMESH_URL"):  # fmt: skip
        mp.delenv(name, raising=False)
    mp.setenv("ENV", "development")
    fm_argv = ["python", "-m", "flowmesh", "serve", "--port", str(fm_port), "--store", store,
               "--require-auth"]  # fmt: skip
    auto_argv = ["python", "-m", "automation", "--state-dir", str(tmp / "automation"), "serve",
                 "--host", "127.0.0.1", "--port", str(auto_port)]  # fmt: skip
    try:
        with run_server(fm_argv), run_server(auto_argv):
            key = (tmp / "automation" / "internal_api_key").read_text().strip()
            yield Servers(f"127.0.0.1:{fm_port}", f"http://127.0.0.1:{auto_port}", key, tokens)
    finally:
        mp.undo()


@dataclass
class Scene:
    queue: str
    job_id: str
    session_id: str


async def _admin(servers: Servers) -> FlowMesh:
    client = FlowMesh(servers.flowmesh, auth_token=servers.tokens["admin"], timeout=5)
    await client.connect()
    return client


@pytest.fixture
async def scene(servers: Servers) -> AsyncIterator[Scene]:
    """A queue of the tenant with one dead-lettered job, and a replay session."""
    queue, stream = f"jobs{uuid.uuid4().hex[:6]}", f"orders{uuid.uuid4().hex[:6]}"
    client = await _admin(servers)
    try:
        deadline = time.monotonic() + 5  # the server reads new tokens within a second
        while True:
            try:
                await client.queue.set_retry_policy(T, NS, queue, RetryPolicy(max_attempts=1))
                break
            except FlowMeshAuthError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        await client.queue.enqueue(T, NS, queue, b'{"resize": 7}')
        job = await client.queue.reserve(T, NS, queue)
        assert job is not None
        await client.queue.nack(T, NS, queue, job.id, error="too large")
        await client.stream.write(T, NS, stream, [Event(payload=b"x")])
        session = await client.replay.create(T, NS, stream, "_replay_console", start_offset=0)
        yield Scene(queue, job.id, session.session_id)
    finally:
        await client.close()


async def _dlq_ids(servers: Servers, queue: str) -> list[str]:
    client = await _admin(servers)
    try:
        return [j.id for j in await client.queue.list_dlq_jobs(T, NS, queue)]
    finally:
        await client.close()


class Browser:
    """The console's ASGI app seen from a remote address (no loopback sign-in), with
    every page it answered kept to look for secrets in."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.pages: list[str] = []

    async def get(self, url: str) -> httpx.Response:
        response = await self.client.get(url)
        self.pages.append(response.text)
        return response

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        response = await self.client.post(url, data=data)
        self.pages.append(response.text)
        return response

    async def sign_in(self, servers: Servers, flowmesh_token: str = "") -> httpx.Response:
        form = {"api_key": servers.key, "tenant": T, "next": "/flowmesh",
                "flowmesh_token": flowmesh_token}  # fmt: skip
        return await self.post("/login", form)

    async def csrf(self, url: str) -> str:
        page = await self.get(url)
        found = re.search(r'name="csrf" value="([0-9a-f]{32})"', page.text)
        assert found, page.text
        return found.group(1)

    async def act(self, page: str, action: str) -> httpx.Response:
        """Press a button of ``page`` (its form posts to ``action``)."""
        return await self.post(action, {"csrf": await self.csrf(page)})


@pytest.fixture
async def console(servers: Servers) -> AsyncIterator[Browser]:
    settings = ConsoleSettings(
        env="production",
        session_secret=SESSION_SECRET,
        automation_url=servers.automation,
        flowmesh_url=servers.flowmesh,
        flowmesh_token=servers.tokens["console"],
        loopback_key_file=None,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            yield Browser(client)
    finally:
        await app.state.console.fm.close()
        await app.state.console.http.aclose()


def _error_text(page: httpx.Response) -> str:
    found = re.search(r'class="flash error" role="alert">([^<]*)<', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


async def test_a_read_only_token_sees_flowmeshs_refusal_and_the_job_stays(
    servers: Servers, scene: Scene, console: Browser
) -> None:
    assert (await console.sign_in(servers, servers.tokens["read_only"])).status_code == 303
    page = f"/flowmesh/queues/{NS}/{scene.queue}"
    shown = await console.get(page)
    assert shown.status_code == 200 and scene.job_id in shown.text
    refused = await console.act(page, f"{page}/dlq/{scene.job_id}/replay")
    assert refused.status_code == 403
    assert _error_text(refused) == (
        f"replay refused: replay DLQ job {scene.job_id}: queue.replay_dlq_job failed: "
        "token lacks the permission 'queue:write' this call needs"
    )
    assert scene.job_id in refused.text  # the page, read again, still lists the job
    assert "Traceback" not in refused.text
    assert await _dlq_ids(servers, scene.queue) == [scene.job_id]
    # replay session controls: FlowMesh's refusal too (they need 'admin')
    paused = await console.act("/flowmesh/replay", f"/flowmesh/replay/{scene.session_id}/pause")
    assert paused.status_code == 403
    assert "token lacks the permission 'admin'" in _error_text(paused)


async def test_a_token_of_another_namespace_is_refused_with_flowmeshs_words(
    servers: Servers, scene: Scene, console: Browser
) -> None:
    await console.sign_in(servers, servers.tokens["elsewhere"])
    page = await console.get(f"/flowmesh/queues/{NS}/{scene.queue}")
    assert page.status_code == 403
    assert f"token may not access namespace {NS!r}" in _error_text(page)
    assert "Traceback" not in page.text


async def test_a_full_token_replays_the_job(
    servers: Servers, scene: Scene, console: Browser
) -> None:
    await console.sign_in(servers, servers.tokens["full"])
    page = f"/flowmesh/queues/{NS}/{scene.queue}"
    done = await console.act(page, f"{page}/dlq/{scene.job_id}/replay")
    assert done.status_code == 303
    assert "is back on the queue" in (await console.get(done.headers["location"])).text
    assert await _dlq_ids(servers, scene.queue) == []
    started = await console.act("/flowmesh/replay", f"/flowmesh/replay/{scene.session_id}/start")
    assert started.status_code == 303
    assert "start done" in (await console.get(started.headers["location"])).text


async def test_without_a_flowmesh_token_reads_use_the_consoles_and_actions_are_refused(
    servers: Servers, scene: Scene, console: Browser
) -> None:
    await console.sign_in(servers)
    page = f"/flowmesh/queues/{NS}/{scene.queue}"
    shown = await console.get(page)  # the console's read-only token reads
    assert shown.status_code == 200 and scene.job_id in shown.text
    refused = await console.act(page, f"{page}/dlq/{scene.job_id}/replay")
    assert refused.status_code == 403
    assert _error_text(refused) == (
        "replay refused: sign in with a FlowMesh token to replay DLQ jobs"
    )
    paused = await console.act("/flowmesh/replay", f"/flowmesh/replay/{scene.session_id}/pause")
    assert paused.status_code == 403
    assert _error_text(paused) == (
        "pause refused: sign in with a FlowMesh token to pause replay sessions"
    )
    assert await _dlq_ids(servers, scene.queue) == [scene.job_id]


async def test_without_shared_reads_a_user_without_a_token_reads_nothing(
    servers: Servers, scene: Scene
) -> None:
    settings = ConsoleSettings(
        env="production", session_secret=SESSION_SECRET, automation_url=servers.automation,
        flowmesh_url=servers.flowmesh, flowmesh_token=servers.tokens["console"],
        flowmesh_shared_reads=False, loopback_key_file=None,
    )  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            browser = Browser(client)
            await browser.sign_in(servers)
            page = await browser.get(f"/flowmesh/queues/{NS}/{scene.queue}")
            assert page.status_code == 403
            assert "sign in with a FlowMesh token to see queue" in _error_text(page)
        # an access without a token sends none: never the console's in its place
        fm = app.state.console.fm
        reset = ACCESS.set(auth.Access(None, may_read=True, may_act=False))
        try:
            with pytest.raises(ServiceError, match="missing bearer token") as refused:
                await fm.queue_stats(T, NS, scene.queue)
        finally:
            ACCESS.reset(reset)
        assert refused.value.status == 401
        await fm.queue_stats(T, NS, scene.queue)  # outside a request: the console's reads
    finally:
        await app.state.console.fm.close()
        await app.state.console.http.aclose()


async def test_the_flowmesh_token_is_checked_and_never_shown(
    servers: Servers, scene: Scene, console: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = "fmt_0123456789ab_" + "n" * 40
    refused = await console.sign_in(servers, forged)
    assert refused.status_code == 400
    assert _error_text(refused).startswith("flowmesh_token: FlowMesh refused it:")
    assert "unknown bearer token" in _error_text(refused)
    bad = await console.sign_in(servers, "two words")
    assert bad.status_code == 400 and _error_text(bad).startswith("flowmesh_token: one word")
    assert auth.COOKIE not in console.client.cookies

    token = servers.tokens["full"]
    signed_in = await console.sign_in(servers, token)
    assert signed_in.status_code == 303
    cookie = console.client.cookies[auth.COOKIE]
    assert token not in cookie and token.split("_")[-1] not in cookie
    creds = auth.SessionCodec(SESSION_SECRET, 3600).load(cookie)
    assert creds is not None and creds.flowmesh_token == token  # there, encrypted
    assert token not in repr(creds)
    for url in ("/flowmesh", f"/flowmesh/queues/{NS}/{scene.queue}", "/flowmesh/replay",
                "/flowmesh/schemas", "/login"):  # fmt: skip
        await console.get(url)
    await console.act("/flowmesh/replay", f"/flowmesh/replay/{scene.session_id}/pause")
    assert len(console.pages) >= 8
    for text in (*console.pages, caplog.text):
        assert token not in text and forged not in text


def test_who_gets_which_flowmesh_token(tmp_path: Path) -> None:
    """The policy of auth.flowmesh_access, and the login form's new field."""
    settings = ConsoleSettings(flowmesh_token="console-token")
    user = auth.from_login_form("", "k-secret-1", "acme", " fmt_mine ")
    assert user.flowmesh_token == "fmt_mine"
    assert auth.flowmesh_access(settings, user) == auth.Access("fmt_mine", True, True)
    plain = auth.from_login_form("", "k-secret-1", "acme")
    assert plain.flowmesh_token is None
    assert auth.flowmesh_access(settings, plain) == auth.Access("console-token", True, False)
    closed = settings.model_copy(update={"flowmesh_shared_reads": False})
    assert auth.flowmesh_access(closed, plain) == auth.Access(None, False, False)
    (tmp_path / "key").write_text("k3y")
    dev = ConsoleSettings(flowmesh_token="dev-token", loopback_key_file=tmp_path / "key")
    local = auth.loopback_credentials(dev, None)
    assert auth.flowmesh_access(dev, local) == auth.Access("dev-token", True, True)
    assert auth.flowmesh_access(settings, None) == auth.Access(None, False, False)
    # switching tenant keeps the FlowMesh token; the codec carries it
    moved = user.with_tenant("globex")
    assert (moved.tenant, moved.flowmesh_token) == ("globex", "fmt_mine")
    codec = auth.SessionCodec("secret", 3600)
    assert codec.load(codec.dump(moved)) == moved
    assert "fmt_mine" not in repr(moved) and "k-secret-1" not in repr(moved)
