"""The Slack page's actions over a real slack-connect, its Paragon emulator, the mesh
receiver and FlowMesh (started as `mimeia up` starts them): plain form posts and
redirects, so no JavaScript is involved; refusals show slack-connect's own text.
Users signed in from elsewhere (against a real automation API) act with their own
Slack admin token, or not at all."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mimeia.services import discover_services, order_by_dependencies
from mimeia.supervisor import start_all, stop_all
from mimeia.testing import free_port, run_server
from mimeia_console import auth
from mimeia_console.app import create_app
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration

NAMES = ("flowmesh", "mesh", "paragon-emulator", "slack-connect")
GENERAL = "C0567MFSJH2"  # #general in the emulator's workspace


@dataclass
class Slack:
    service: str
    emulator: str
    admin_token: str


@pytest.fixture(scope="module")
def slack_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slack]:
    mp = pytest.MonkeyPatch()
    state = tmp_path_factory.mktemp("slack-up")
    ports = {name: free_port() for name in NAMES}
    for name in NAMES:
        mp.setenv(f"MIMEIA_{name.upper().replace('-', '_')}_PORT", str(ports[name]))
    mp.setenv("MIMEIA_FLOWMESH_HTTP_PORT", str(free_port()))
    running = start_all(
        order_by_dependencies([s for s in discover_services() if s.name in NAMES]), state
    )
    try:
        yield Slack(
            f"http://127.0.0.1:{ports['slack-connect']}",
            f"http://127.0.0.1:{ports['paragon-emulator']}",
            (state / "slack_connect" / "admin_token").read_text().strip(),
        )
    finally:
        stop_all(running)
        mp.undo()


@pytest.fixture
async def console(slack_stack: Slack, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "internal_api_key").write_text("k3y")  # loopback sign-in
    settings = ConsoleSettings(loopback_key_file=tmp_path / "internal_api_key",
                               slack_connect_url=slack_stack.service,
                               slack_admin_token=slack_stack.admin_token)  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client
    await app.state.console.fm.close()


async def _runs_done(stack: Slack, org: str, count: int) -> None:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient() as http:
        while True:
            runs = (await http.get(f"{stack.emulator}/_emulator/runs")).json()["runs"]
            done = [r for r in runs if r["user"] == org and r["status"] != "running"]
            if len(done) >= count:
                assert all(r["status"] == "succeeded" for r in done), done
                return
            assert time.monotonic() < deadline, runs
            await asyncio.sleep(0.1)


async def _post(console: httpx.AsyncClient, org: str, path: str, **fields: str) -> str:
    """Post a form as the page's own button does; the flash message of the page it
    redirects to, or of the page shown again with slack-connect's refusal."""
    page = await console.get("/slack", params={"org": org})
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    answer = await console.post(path, data={"csrf": found.group(1), "org": org, **fields})
    if answer.status_code == 303:
        shown = await console.get(answer.headers["location"])
        assert shown.status_code == 200
    else:  # refused: the page again, with the refusal's status (never a failure)
        assert answer.status_code in (401, 403, 409, 422), answer.text
        shown = answer
    flash = re.search(r'<p class="flash (?:ok|error)" role="(?:status|alert)">(.*?)</p>',
                      shown.text, re.S)  # fmt: skip
    assert flash, shown.text
    return flash.group(1)


async def test_slack_page_fetches_allows_syncs_and_shows_refusals(
    console: httpx.AsyncClient, slack_stack: Slack
) -> None:
    org = f"org-{uuid.uuid4().hex[:10]}"
    first = await console.get("/slack", params={"org": org})
    assert "No channels fetched for this organization" in first.text
    assert ">Fetch channels and users</button>" in first.text
    assert ">Sync messages now</button>" in first.text

    # refused by slack-connect: its own text, escaped
    refused = await _post(console, org, "/slack/sync", what="messages")
    assert refused == "sync refused: allowlist is empty; set it before syncing"

    assert await _post(console, org, "/slack/sync", what="channels") == (
        "Sync started: channels and users"
    )
    await _runs_done(slack_stack, org, 2)
    listed = await console.get("/slack", params={"org": org})
    assert 'aria-label="Add to allowlist: #general">Add to allowlist</button>' in listed.text

    added = await _post(console, org, "/slack/allowlist", channel=GENERAL, change="add")
    assert added == f"Channel {GENERAL} added to the allowlist (1 allowed)"
    unknown = await _post(console, org, "/slack/allowlist", channel="C0UNKNOWN1", change="add")
    assert "unknown channels [&#39;C0UNKNOWN1&#39;]" in unknown  # the API's text, escaped
    bad = await _post(console, org, "/slack/allowlist", channel='"><b>x', change="add")
    assert bad == "channel: a Slack channel id (letters and digits)"

    assert await _post(console, org, "/slack/sync", what="messages") == (
        "Sync started: messages of allowlisted channels"
    )
    await _runs_done(slack_stack, org, 3)
    synced = await console.get("/slack", params={"org": org})
    row = re.search(rf"<tr><td><code>{GENERAL}</code></td><td>yes</td>"
                    r'<td class="last-sync"><time datetime="([^"]+)"[^>]*>([^<]*)</time></td>'
                    r'<td class="cursor">([^<]*) <code>([^<]*)</code></td>',
                    synced.text)  # fmt: skip
    assert row, synced.text
    # when the sync wrote the channel (slack-connect's clock), as a time and as sent
    synced_at = datetime.fromisoformat(row.group(1))
    assert abs((datetime.now(UTC) - synced_at).total_seconds()) < 120
    assert row.group(2) == synced_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    # the cursor after the sync: its time and the raw Slack ts
    assert row.groups()[2:] == ("2023-11-14 22:16:00", "1700000160.000100")
    stored = re.search(rf"<code>{GENERAL}</code>.*?<code>(\{{.*?\}})</code>", synced.text, re.S)
    assert stored and '"sent": 10' in stored.group(1)  # messages stored
    assert 'aria-label="Remove from allowlist: #general"' in synced.text

    removed = await _post(console, org, "/slack/allowlist", channel=GENERAL, change="remove")
    assert removed == f"Channel {GENERAL} taken off the allowlist (0 allowed)"
    async with httpx.AsyncClient() as http:
        channels = (
            await http.get(f"{slack_stack.service}/v1/orgs/{org}/channels",
                           headers={"Authorization": f"Bearer {slack_stack.admin_token}"})
        ).json()["channels"]  # fmt: skip
    assert not [c for c in channels if c["allowlisted"]]


# -- users signed in from elsewhere, with or without their own Slack admin token ------

SESSION_SECRET = "s" * 40


@pytest.fixture(scope="module")
def automation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real automation API to sign in against: (its address, its internal key)."""
    tmp = tmp_path_factory.mktemp("slack-auto")
    port = free_port()
    mp = pytest.MonkeyPatch()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY",
                 "JWT_SECRET_KEY", "FLOWMESH_URL"):  # fmt: skip
        mp.delenv(name, raising=False)
    mp.setenv("ENV", "development")
    argv = ["python", "-m", "automation", "--state-dir", str(tmp), "serve",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    try:
        with run_server(argv):
            yield f"http://127.0.0.1:{port}", (tmp / "internal_api_key").read_text().strip()
    finally:
        mp.undo()


def _admin(stack: Slack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_token}"}


async def _allowlisted(stack: Slack, org: str) -> list[str]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{stack.service}/v1/orgs/{org}/channels", headers=_admin(stack))
    return [c["id"] for c in answer.json()["channels"] if c["allowlisted"]]


def _flash(page: httpx.Response) -> str:
    found = re.search(r'class="flash error" role="alert">([^<]*)<', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


async def test_slack_actions_carry_the_users_own_admin_token(
    slack_stack: Slack, automation: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = f"org-{uuid.uuid4().hex[:10]}"  # also the tenant: the page's org by default
    async with httpx.AsyncClient() as http:  # the org's channels, fetched by the admin
        url = f"{slack_stack.service}/v1/orgs/{org}/sync"
        started = await http.post(url, json={"what": ["channels"]}, headers=_admin(slack_stack))
        assert started.status_code == 200, started.text
    await _runs_done(slack_stack, org, 1)
    settings = ConsoleSettings(
        env="production", session_secret=SESSION_SECRET, automation_url=automation[0],
        slack_connect_url=slack_stack.service, slack_admin_token=slack_stack.admin_token,
        loopback_key_file=None,
    )  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))  # not loopback
    pages: list[str] = []
    wrong = "wrong-admin-token-" + "w" * 20

    async def sign_in(client: httpx.AsyncClient, slack_token: str = "") -> httpx.Response:
        form = {"api_key": automation[1], "tenant": org, "next": "/slack",
                "slack_token": slack_token}  # fmt: skip
        answer = await client.post("/login", data=form)
        pages.append(answer.text)
        return answer

    async def press(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
        page = await client.get("/slack")
        pages.append(page.text)
        found = re.search(r'name="csrf" value="([0-9a-f]{32})"', page.text)
        assert found, page.text
        answer = await client.post(path, data={"csrf": found.group(1), **fields})
        pages.append(answer.text)
        return answer

    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            form = (await client.get("/login")).text  # a labelled password field
            assert '<label for="slack_token">Slack admin token (optional)</label>' in form
            assert re.search(r'<input id="slack_token" name="slack_token" type="password"', form)
            # a token slack-connect refuses never becomes a session: its words, escaped
            refused = await sign_in(client, wrong)
            assert refused.status_code == 400
            assert _flash(refused) == (
                "slack_token: slack-connect refused it: missing or wrong admin bearer token"
            )
            assert auth.COOKIE not in client.cookies

            # without a token of their own: the console's token reads, actions are refused
            assert (await sign_in(client)).status_code == 303
            shown = await client.get("/slack")
            assert shown.status_code == 200 and f"<code>{GENERAL}</code>" in shown.text
            denied = await press(client, "/slack/allowlist", channel=GENERAL, change="add")
            assert denied.status_code == 403
            assert _flash(denied) == (
                "allowlist change refused: sign in with a Slack admin token to change the allowlist"
            )
            assert f"<code>{GENERAL}</code>" in denied.text  # the page, read again
            no_sync = await press(client, "/slack/sync", what="channels")
            assert no_sync.status_code == 403
            assert _flash(no_sync) == (
                "sync refused: sign in with a Slack admin token to start syncs"
            )

            # a token slack-connect stopped taking (rotated since sign-in): its refusal
            codec = auth.SessionCodec(SESSION_SECRET, 3600)
            plain = codec.load(client.cookies[auth.COOKIE])
            assert plain is not None and plain.slack_token is None
            stale = auth.Credentials(plain.kind, plain.secret, plain.tenant, plain.subject,
                                     slack_token=wrong)  # fmt: skip
            domain = next(c.domain for c in client.cookies.jar if c.name == auth.COOKIE)
            client.cookies.set(auth.COOKIE, codec.dump(stale), domain=domain)
            rejected = await press(client, "/slack/allowlist", channel=GENERAL, change="add")
            assert rejected.status_code == 401
            assert _flash(rejected) == (
                "allowlist change refused: missing or wrong admin bearer token"
            )
            assert await _allowlisted(slack_stack, org) == []

            # their own right token: the allowlist changes
            signed_in = await sign_in(client, slack_stack.admin_token)
            assert signed_in.status_code == 303
            cookie = client.cookies[auth.COOKIE]
            assert slack_stack.admin_token not in cookie
            kept = codec.load(cookie)
            assert kept is not None and kept.slack_token == slack_stack.admin_token
            added = await press(client, "/slack/allowlist", channel=GENERAL, change="add")
            assert added.status_code == 303
            shown = await client.get(added.headers["location"])  # the message, once
            assert "added to the allowlist (1 allowed)" in shown.text
            assert await _allowlisted(slack_stack, org) == [GENERAL]
            pages.append((await client.get("/login")).text)
    finally:
        await app.state.console.fm.close()
        await app.state.console.http.aclose()
    assert len(pages) >= 10
    for text in (*pages, caplog.text):
        assert slack_stack.admin_token not in text and wrong not in text


def test_who_gets_which_slack_token(tmp_path: Path) -> None:
    """The policy of auth.slack_access (FlowMesh's rule, CONSOLE_SLACK_SHARED_READS)."""
    settings = ConsoleSettings(slack_admin_token="console-slack-token")
    user = auth.from_login_form("", "k-secret-1", "acme", "", " slack-mine ")
    assert (user.slack_token, user.flowmesh_token) == ("slack-mine", None)
    assert auth.slack_access(settings, user) == auth.Access("slack-mine", True, True)
    plain = auth.from_login_form("", "k-secret-1", "acme")
    assert auth.slack_access(settings, plain) == auth.Access("console-slack-token", True, False)
    closed = settings.model_copy(update={"slack_shared_reads": False})
    assert auth.slack_access(closed, plain) == auth.Access(None, False, False)
    unset = ConsoleSettings()  # no console token: only a user's own token works
    assert auth.slack_access(unset, plain) == auth.Access(None, True, False)
    assert auth.slack_access(unset, user) == auth.Access("slack-mine", True, True)
    (tmp_path / "key").write_text("k3y")
    dev = ConsoleSettings(slack_admin_token="dev-token", loopback_key_file=tmp_path / "key")
    local = auth.loopback_credentials(dev, None)
    assert auth.slack_access(dev, local) == auth.Access("dev-token", True, True)
    assert auth.Access(None, False, False).refusal("a Slack admin token", "x", "sync") == (
        "sign in with a Slack admin token to sync"
    )
    with pytest.raises(auth.LoginError, match=r"^slack_token: one word"):
        auth.from_login_form("", "k-secret-1", "acme", "", "two words")
    codec = auth.SessionCodec("secret", 3600)
    moved = user.with_tenant("globex")
    assert codec.load(codec.dump(moved)) == moved and "slack-mine" not in repr(moved)


async def test_without_any_admin_token_the_slack_page_says_so(tmp_path: Path) -> None:
    """`mimeia up` without slack-connect: a loopback visitor sees why (200), no buttons."""
    (tmp_path / "key").write_text("k3y")
    app = create_app(ConsoleSettings(loopback_key_file=tmp_path / "key"))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            page = await client.get("/slack")
    finally:
        await app.state.console.fm.close()
        await app.state.console.http.aclose()
    assert page.status_code == 200
    assert "CONSOLE_SLACK_ADMIN_TOKEN is not set; sign in with a Slack admin token" in page.text
    assert "Sync messages now</button>" not in page.text
