"""The Slack page's actions over a real slack-connect, its Paragon emulator, the mesh
receiver and FlowMesh (started as `mimeia up` starts them): plain form posts and
redirects, so no JavaScript is involved; refusals show slack-connect's own text."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mimeia.services import discover_services, order_by_dependencies
from mimeia.supervisor import start_all, stop_all
from mimeia.testing import free_port
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
    """Post a form as the page's own button does; the page it redirects to, and its
    flash message."""
    page = await console.get("/slack", params={"org": org})
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    answer = await console.post(path, data={"csrf": found.group(1), "org": org, **fields})
    assert answer.status_code == 303, answer.text
    shown = await console.get(answer.headers["location"])
    assert shown.status_code == 200
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
    row = re.search(rf"<tr><td><code>{GENERAL}</code></td><td>yes</td><td>([^<]*)</td>",
                    synced.text)  # fmt: skip
    assert row and row.group(1) == "1700000160.000100"  # the cursor after the sync
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
