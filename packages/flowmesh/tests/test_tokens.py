"""Stored access tokens and ``--require-auth`` on gRPC (unary and streaming),
HTTP and WebSocket alike, on both stores: permissions, namespaces, expiry,
revocation ending open subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from flowmesh import (
    Event,
    FlowMesh,
    FlowMeshAuthError,
    FlowMeshConnectionError,
    FlowMeshPermissionDeniedError,
    cli,
    token_cli,
)
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration
T = "acme"


class Secured:
    def __init__(self, store: str, grpc: str, http: str) -> None:
        self.store, self.grpc, self.http = store, grpc, http

    async def token(self, *args: str) -> str:
        """``flowmesh token ARGS --store STORE`` in this process (the CLI's own
        code; one test below runs the real command); its stdout."""
        parsed = cli._parser().parse_args(["token", *args, "--store", self.store])
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = await token_cli._run(parsed)
        assert code == 0, out.getvalue()
        return out.getvalue()

    async def create(self, *args: str) -> str:
        return (await self.token("create", "--tenant", T, *args)).strip()


@pytest.fixture(scope="module")
def secured(
    store_kind: str,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    redis_prefix: str,
    serve_cmd: Callable[..., list[str]],
) -> Iterator[Secured]:
    """A server started with --require-auth and no token at all yet."""
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tokens')}/fm.db"
    else:
        url = f"{redis_url}?prefix={redis_prefix}tok{uuid.uuid4().hex[:6]}:"
    port, http_port = free_port(), free_port()
    argv = serve_cmd(port, url, "--http-addr", f"127.0.0.1:{http_port}", "--require-auth")
    with run_server(argv) as proc:
        assert "OPEN" not in proc.log
        yield Secured(url, f"127.0.0.1:{port}", f"http://127.0.0.1:{http_port}")


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 5.0) -> Any:
    """``check()``'s result once it stops raising (the server re-reads tokens every second)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await check()
        except (AssertionError, FlowMeshAuthError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def ws_url(s: Secured, token: str | None = None) -> str:
    return s.http.replace("http://", "ws://") + "/ws" + (f"?token={token}" if token else "")


async def test_without_a_token_every_call_is_refused_but_health(secured: Secured, ns: str):
    async with FlowMesh(secured.grpc) as anonymous:
        assert await anonymous.health_check()
        with pytest.raises(FlowMeshAuthError, match="authorization: missing bearer token"):
            await anonymous.kv.get(T, ns, "kv", "k")
        with pytest.raises(FlowMeshAuthError):
            async for _ in anonymous.stream.subscribe(T, ns, "s", "g"):
                pass
    async with FlowMesh(secured.grpc, auth_token="fmt_0123456789ab_nottherealsecret") as forged:
        with pytest.raises(FlowMeshAuthError, match="unknown bearer token"):
            await forged.stream.write(T, ns, "s", [Event(payload=b"x")])
    async with httpx.AsyncClient(base_url=secured.http, timeout=10) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/ready")).status_code == 200
        refused = await http.get("/api/v1/streams")
        assert refused.status_code == 401
        assert refused.json()["message"].startswith("authorization: missing bearer token")
        assert refused.headers["www-authenticate"] == "Bearer"
        bad = await http.get("/api/v1/kv", headers={"authorization": "Basic abc"})
        assert bad.status_code == 401
    async with connect(ws_url(secured)) as ws:
        frame = orjson.loads(await ws.recv())
        assert frame["type"] == "error" and frame["payload"]["code"] == 401
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_permissions_and_namespaces_are_enforced_everywhere(secured: Secured, ns: str):
    other = f"{ns}-other"
    token = await secured.create("--namespace", ns, "--permission", "stream:read",
                           "--permission", "stream:write", "--permission", "kv:read")  # fmt: skip
    assert token.startswith("fmt_") and len(token) > 40
    async with FlowMesh(secured.grpc, auth_token=token) as c:
        await eventually(lambda: c.stream.write(T, ns, "s", [Event(payload=b"a")]))
        assert [m.payload for m in await c.stream.read(T, ns, "s", offset=0)] == [b"a"]
        with pytest.raises(FlowMeshPermissionDeniedError,
                           match=f"resource_path.namespace: token may not access namespace "
                                 f"'{other}'"):  # fmt: skip
            await c.stream.write(T, other, "s", [Event(payload=b"a")])
        with pytest.raises(FlowMeshPermissionDeniedError, match=r"resource_path\.tenant: token "
                           r"may not access tenant 'globex'"):  # fmt: skip
            await c.stream.read("globex", ns, "s")
        with pytest.raises(FlowMeshPermissionDeniedError, match="permission 'queue:write'"):
            await c.queue.enqueue(T, ns, "q", b"x")
        with pytest.raises(FlowMeshPermissionDeniedError, match="permission 'kv:write'"):
            await c.kv.set(T, ns, "kv", "k", b"v")
        with pytest.raises(FlowMeshPermissionDeniedError, match="permission 'admin'"):
            await c.schemas.list_schemas(T)
        # listings show what the token may read, nothing else
        assert [s.namespace for s in await c.streams.list(T)] == [ns]
        assert await c.queues.list(T) == []
        assert await c.stream.list_consumer_groups(T, ns, "s") == []
        with pytest.raises(FlowMeshPermissionDeniedError, match="may not access namespace"):
            await c.stream.list_consumer_groups(T, other, "s")
    async with httpx.AsyncClient(base_url=secured.http, timeout=10,
                                 headers={"authorization": f"Bearer {token}"}) as http:  # fmt: skip
        got = await http.get(f"/api/v1/streams/{T}/{ns}/s/messages", params={"offset": 0})
        assert got.status_code == 200 and len(got.json()["messages"]) == 1
        denied = await http.post(f"/api/v1/queues/{T}/{ns}/q/jobs", json={"payload": "eA=="})
        assert denied.status_code == 403 and "queue:write" in denied.json()["message"]
        outside = await http.get(f"/api/v1/streams/{T}/{other}/s/messages")
        assert outside.status_code == 403
        assert outside.json()["message"].startswith("resource_path.namespace:")
    async with connect(ws_url(secured, token)) as ws:
        await ws.send(json.dumps({"type": "subscribe", "payload": {
            "topics": [f"queue.stats.{T}/{ns}/q", f"stream.stats.{T}/{ns}/s"]}}))  # fmt: skip
        frames = {}
        for _ in range(3):
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            frames.setdefault(frame["topic"], []).append(frame)
        queue_frames = frames[f"queue.stats.{T}/{ns}/q"]
        assert queue_frames[0]["type"] == "error" and queue_frames[0]["payload"]["code"] == 403
        assert [f["type"] for f in frames[f"stream.stats.{T}/{ns}/s"]] == [
            "subscribed", "stream.stats"]  # fmt: skip


async def test_a_namespace_token_pages_through_only_its_namespace(secured: Secured, ns: str):
    mine = [f"s{i:02d}" for i in range(45)]
    # "<ns>-a/..." sorts before "<ns>/...": the pages must skip past 130 hidden streams
    admin = await secured.create()
    limited = await secured.create("--namespace", ns, "--permission", "stream:read")
    async with FlowMesh(secured.grpc, auth_token=admin) as c:
        await eventually(lambda: c.streams.configure(T, ns, mine[0]))
        await asyncio.gather(*(c.streams.configure(T, f"{ns}-a", f"x{i:03d}") for i in range(130)),
                             *(c.streams.configure(T, ns, n) for n in mine[1:]))  # fmt: skip
    async with FlowMesh(secured.grpc, auth_token=limited) as c:
        await eventually(lambda: c.streams.list_page(T, page_size=1))
        seen, sizes, token = [], [], ""
        while True:
            page = await c.streams.list_page(T, page_size=20, page_token=token)
            assert {s.namespace for s in page.streams} <= {ns}
            seen.extend(s.name for s in page.streams)
            sizes.append(len(page.streams))
            if not (token := page.next_page_token):
                break
        assert (seen, sizes) == (mine, [20, 20, 5])
        # asking for another namespace lists nothing (no error, nothing leaked)
        assert (await c.streams.list_page(T, f"{ns}-a", page_size=20)).streams == []


async def test_expired_and_revoked_tokens_stop_working_and_end_subscriptions(
    secured: Secured, ns: str
):
    short = await secured.create("--expires-in", "4")
    async with FlowMesh(secured.grpc, auth_token=short) as c:
        await eventually(lambda: c.kv.set(T, ns, "kv", "k", b"v"))

        async def expired() -> str:
            try:
                await c.kv.get(T, ns, "kv", "k")
            except FlowMeshAuthError as exc:
                return str(exc)
            raise AssertionError("the token still works")

        assert re.search(r"authorization: token \w+ expired at", await eventually(expired, 10))
    lasting = await secured.create("--namespace", ns)
    listed = [json.loads(line) for line in (await secured.token("list")).splitlines()]
    assert all("token_hash" not in r and short not in json.dumps(r) for r in listed)

    async with FlowMesh(secured.grpc, auth_token=lasting) as c:
        await eventually(lambda: c.stream.write(T, ns, "s", [Event(payload=b"0")]))
        received: list[bytes] = []

        async def consume() -> None:
            async for m in c.stream.subscribe(T, ns, "s", "g", start_offset=0):
                received.append(m.payload)

        subscription = asyncio.create_task(consume())
        async with connect(ws_url(secured, lasting)) as ws:
            await ws.send(json.dumps({"type": "subscribe", "payload": {
                "topics": [f"stream.tail.{T}/{ns}/s"]}}))  # fmt: skip
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "subscribed"
            await eventually(_until(lambda: received == [b"0"]))
            token_id = lasting.split("_")[1]
            assert (await secured.token("revoke", token_id)).strip() == f"revoked token {token_id}"
            with pytest.raises(FlowMeshAuthError, match="revoked"):
                await asyncio.wait_for(subscription, 10)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        with pytest.raises(FlowMeshAuthError, match=rf"token {token_id} was revoked"):
            await c.stream.read(T, ns, "s")
    states = {json.loads(line)["token_id"]: json.loads(line)["state"]
              for line in (await secured.token("list")).splitlines()}  # fmt: skip
    assert states[token_id] == "revoked" and states[short.split("_")[1]] == "expired"


def _until(predicate: Callable[[], bool]) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        assert predicate()

    return check


def test_token_create_refuses_bad_input_naming_the_field(tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flowmesh", "token", *args, "--store",
                               f"sqlite:///{tmp_path}/fm.db"], capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    bad = run("create", "--tenant", T, "--permission", "queue:admin")
    assert bad.returncode == 2 and "permission: must be one of" in bad.stderr
    assert run("create", "--tenant", "a b").stderr.strip().endswith("tenant: must be 1-128 "
                                                                      "characters of letters, "
                                                                      "digits, '.', '_' or '-', "
                                                                      "starting with a letter or "
                                                                      "digit")  # fmt: skip
    missing = run("revoke", "fmt_000000000000_x")
    assert missing.returncode == 1 and "token_id: no token '000000000000'" in missing.stderr


async def test_with_token_sends_another_token_over_the_same_connection(secured: Secured, ns: str):
    reader = await secured.create("--namespace", ns, "--permission", "stream:read")
    writer = await secured.create("--namespace", ns, "--permission", "stream:read",
                                  "--permission", "stream:write")  # fmt: skip
    async with FlowMesh(secured.grpc, auth_token=writer) as gateway:
        as_reader = gateway.with_token(reader)
        anonymous = gateway.with_token(None)
        await eventually(lambda: gateway.stream.write(T, ns, "wt", [Event(payload=b"a")]))
        # each view sends its own token, none opens a channel of its own
        assert [m.payload for m in await eventually(
            lambda: as_reader.stream.read(T, ns, "wt", offset=0))] == [b"a"]  # fmt: skip
        assert as_reader._channel is None and anonymous._channel is None
        with pytest.raises(FlowMeshPermissionDeniedError, match="permission 'stream:write'"):
            await as_reader.stream.write(T, ns, "wt", [Event(payload=b"b")])
        with pytest.raises(FlowMeshAuthError, match="missing bearer token"):
            await anonymous.stream.read(T, ns, "wt", offset=0)
        await as_reader.close()  # a view's close leaves the connection open
        assert await gateway.stream.write(T, ns, "wt", [Event(payload=b"c")])
    with pytest.raises(FlowMeshConnectionError, match="not connected"):
        await as_reader.stream.read(T, ns, "wt", offset=0)
