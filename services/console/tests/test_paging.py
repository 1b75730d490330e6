"""Every list the console shows comes a page at a time from the API behind it: a real
automation API, the real SMTP and SMS sinks and FlowMesh, and the console's ASGI app
signed in over loopback. Pages are walked by their own Next links (no JavaScript)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest

from mimeia.testing import free_port, run_server
from mimeia_console.app import create_app
from mimeia_console.settings import ConsoleSettings

pytestmark = pytest.mark.integration
TENANT = "pager"


@dataclass
class Servers:
    automation: str
    key_file: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("paging")
    port = free_port()
    mp = pytest.MonkeyPatch()
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "INTERNAL_API_KEY",
                 "JWT_SECRET_KEY", "FLOWMESH_URL"):  # fmt: skip
        mp.delenv(name, raising=False)
    mp.setenv("ENV", "development")
    auto_argv = ["python", "-m", "automation", "--state-dir", str(tmp / "automation"), "serve",
                 "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    try:
        with run_server(auto_argv):
            yield Servers(f"http://127.0.0.1:{port}", tmp / "automation" / "internal_api_key")
    finally:
        mp.undo()


@pytest.fixture
async def console(servers: Servers) -> AsyncIterator[httpx.AsyncClient]:
    settings = ConsoleSettings(loopback_key_file=servers.key_file, default_tenant=TENANT,
                               automation_url=servers.automation)  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client
    await app.state.console.fm.close()


def _api(servers: Servers) -> httpx.Client:
    key = servers.key_file.read_text().strip()
    return httpx.Client(base_url=f"{servers.automation}/api/v1", timeout=10,
                        headers={"X-Internal-API-Key": key, "X-Tenant-ID": TENANT})  # fmt: skip


def _next(page: str, rel: str = "next") -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', page)
    return unescape(found.group(1)) if found else None


async def test_webhook_endpoints_are_walked_page_by_page_each_seen_once(
    servers: Servers, console: httpx.AsyncClient
) -> None:
    with _api(servers) as api:
        made = set()
        for i in range(120):
            body = {"url": f"https://example.com/hook/{i}", "name": f"ep-{i:03d}"}
            answer = api.post("/webhooks/endpoints", json=body)
            assert answer.status_code == 201, answer.text
            made.add(answer.json()["id"])
        # the message's attempts come a page at a time too; more than 200 is refused
        assert api.get("/webhooks/messages/nope/attempts", params={"limit": 201}).status_code == 422

    seen: list[str] = []
    url: str | None = "/webhooks"
    pages = 0
    while url is not None:
        page = await console.get(url if url.startswith("/") else f"/webhooks{url}")
        assert page.status_code == 200, page.text
        seen += re.findall(r'<a href="/webhooks/endpoints/([0-9a-f-]{36})">', page.text)
        pages += 1
        url = _next(page.text.split("<h2>Messages</h2>")[0])
    assert pages == 5 and len(seen) == len(set(seen)) == 120 and set(seen) == made
