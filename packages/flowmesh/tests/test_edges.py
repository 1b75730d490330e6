"""Bad input, authentication, tenancy and unreachable servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from flowmesh import (
    Event,
    FlowMesh,
    FlowMeshAuthError,
    FlowMeshConnectionError,
    FlowMeshError,
    FlowMeshInvalidArgumentError,
    FlowMeshPermissionDeniedError,
)
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration
TOKENS = "tok-acme=acme;tok-both=acme,globex;tok-admin=*"


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, serve_cmd: Callable[..., list[str]]
) -> Iterator[str]:
    """A server with tokens from FLOWMESH_TOKENS and a 1 KiB payload cap."""
    db = tmp_path_factory.mktemp("secured") / "fm.db"
    port = free_port()
    argv = serve_cmd(port, f"sqlite:///{db}", "--max-payload-bytes", "1024")
    with run_server(argv, env={"FLOWMESH_TOKENS": TOKENS}) as proc:
        assert "OPEN" not in proc.log
        yield f"127.0.0.1:{port}"


@pytest.fixture
async def acme(secured: str) -> AsyncIterator[FlowMesh]:
    async with FlowMesh(secured, auth_token="tok-acme") as c:
        yield c


@pytest.mark.parametrize(
    ("tenant", "namespace", "name", "field"),
    [
        ("", "ns", "s", "resource_path.tenant"),
        ("acme", "", "s", "resource_path.namespace"),
        ("acme", "ns", "", "resource_path.name"),
        ("acme", "ns", "a/b", "resource_path.name"),
        ("acme", "ns", "{tag}", "resource_path.name"),
        ("acme", "ns", "x" * 129, "resource_path.name"),
        ("ac me", "ns", "s", "resource_path.tenant"),
        ("acme", "-ns", "s", "resource_path.namespace"),
    ],
)
async def test_bad_names_are_rejected_naming_the_field(
    acme: FlowMesh, tenant: str, namespace: str, name: str, field: str, refused: Any
):
    with refused("stream.write", f"{field}: "):
        await acme.stream.write(tenant or "", namespace, name, [Event(payload=b"x")])


async def test_payload_cap_and_batch_rules(acme: FlowMesh, refused: Any):
    await acme.stream.write("acme", "ns", "s", [Event(payload=b"x" * 1024)])
    with refused("stream.write", "events[1].payload: is 1025 bytes"):
        await acme.stream.write("acme", "ns", "s", [Event(payload=b""), Event(payload=b"x" * 1025)])
    # Nothing of a rejected batch was written.
    assert await acme.stream.get_latest_offset("acme", "ns", "s") == 0
    with refused("stream.write", "events: must hold at least one"):
        await acme.stream.write("acme", "ns", "s", [])
    with refused("queue.enqueue", "payload: is 1025 bytes"):
        await acme.queue.enqueue("acme", "ns", "q", b"x" * 1025)
    with refused("stream.read", "max_messages"):
        await acme.stream.read("acme", "ns", "s", max_messages=100_000)
    with refused("stream.read", "offset"):
        await acme.stream.read("acme", "ns", "s", offset=-5)
    with refused("queue.reserve", "long_poll_timeout"):
        await acme.queue.reserve("acme", "ns", "q", long_poll_timeout=21)
    with refused("stream.subscribe", "start_offset"):
        async for _ in acme.stream.subscribe("acme", "ns", "s", "g", start_offset=-3):
            pass
    with refused("stream.write", "events[0].headers"):
        await acme.stream.write("acme", "ns", "s", [Event(payload=b"", headers={"": "v"})])


async def test_wrong_types_fail_in_the_sdk_naming_the_field(acme: FlowMesh):
    with pytest.raises(FlowMeshInvalidArgumentError, match=r"^payload: must be bytes, got str"):
        await acme.queue.enqueue("acme", "ns", "q", "text")  # type: ignore[arg-type]
    with pytest.raises(FlowMeshInvalidArgumentError, match=r"^delay: must be a timedelta"):
        await acme.queue.enqueue("acme", "ns", "q", b"x", delay="5s")  # type: ignore[arg-type]
    with pytest.raises(FlowMeshInvalidArgumentError, match=r"^ttl: must not be negative"):
        await acme.kv.set("acme", "ns", "kv", "k", b"v", ttl=-1)
    with pytest.raises(FlowMeshInvalidArgumentError, match=r"^tenant: must be str"):
        await acme.kv.get(42, "ns", "kv", "k")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="payload"):
        Event(payload=123)  # type: ignore[arg-type]


async def test_tokens_limit_tenants(secured: str):
    async with FlowMesh(secured) as anonymous:
        assert await anonymous.health_check()  # health needs no token
        assert await anonymous.readiness_check()
        with pytest.raises(FlowMeshAuthError, match="missing bearer token"):
            await anonymous.kv.set("acme", "ns", "kv", "k", b"v")
    async with FlowMesh(secured, auth_token="forged") as forged:
        with pytest.raises(FlowMeshAuthError, match="unknown bearer token"):
            await forged.kv.set("acme", "ns", "kv", "k", b"v")
    async with FlowMesh(secured, auth_token="tok-acme") as acme:
        await acme.kv.set("acme", "ns", "kv", "k", b"acme's")
        with pytest.raises(FlowMeshPermissionDeniedError, match="globex"):
            await acme.kv.set("globex", "ns", "kv", "k", b"v")
        with pytest.raises(FlowMeshPermissionDeniedError):
            await acme.queue.reserve("globex", "ns", "q")
        with pytest.raises(FlowMeshPermissionDeniedError):
            async for _ in acme.stream.subscribe("globex", "ns", "s", "g"):
                pass
    async with FlowMesh(secured, auth_token="tok-both") as both:
        assert await both.kv.get("acme", "ns", "kv", "k") == b"acme's"
        await both.kv.set("globex", "ns", "kv", "k", b"globex's")
    async with FlowMesh(secured, auth_token="tok-admin") as admin:
        assert await admin.kv.get("globex", "ns", "kv", "k") == b"globex's"


async def test_tokens_limit_tenants_on_schemas_and_replay(secured: str):
    async with FlowMesh(secured, auth_token="tok-both") as both:
        await both.schemas.register("globex", "s", {"type": "object"})
        await both.stream.write("globex", "ns", "r", [Event(payload=b"{}")])
        theirs = await both.replay.create("globex", "ns", "r", "_replay_g", start_offset=0)
        await both.stream.write("acme", "ns", "r", [Event(payload=b"{}")])
        ours = await both.replay.create("acme", "ns", "r", "_replay_a", start_offset=0)
    async with FlowMesh(secured) as anonymous:
        with pytest.raises(FlowMeshAuthError):
            await anonymous.schemas.list_schemas("acme")
        with pytest.raises(FlowMeshAuthError):
            await anonymous.replay.get(ours.session_id)
    async with FlowMesh(secured, auth_token="tok-acme") as acme:
        for call in (
            acme.schemas.register("globex", "s2", {"type": "object"}),
            acme.schemas.get("globex", "s"),
            acme.schemas.list_schemas("globex"),
            acme.schemas.delete("globex", "s", 1),
            acme.schemas.attach("globex", "ns", "r", "s"),
            acme.replay.get(theirs.session_id),
            acme.replay.start(theirs.session_id),
            acme.replay.delete(theirs.session_id),
            acme.replay.create("globex", "ns", "r", "_replay_x", start_offset=0),
        ):
            with pytest.raises(FlowMeshPermissionDeniedError, match="globex"):
                await call
        assert [s.session_id for s in await acme.replay.list_sessions()] == [ours.session_id]
        await acme.replay.start(ours.session_id)


async def test_tokens_file_and_malformed_tokens(
    tmp_path: Path, serve_cmd: Callable[..., list[str]]
):
    tokens = tmp_path / "tokens"
    tokens.write_text("# one line per token\nfile-token = acme\n")
    port = free_port()
    argv = serve_cmd(port, f"sqlite:///{tmp_path}/fm.db", "--tokens-file", str(tokens))
    with run_server(argv):
        async with FlowMesh(f"127.0.0.1:{port}", auth_token="file-token") as c:
            await c.kv.set("acme", "ns", "kv", "k", b"v")
            with pytest.raises(FlowMeshPermissionDeniedError):
                await c.kv.set("other", "ns", "kv", "k", b"v")
    tokens.write_text("no-equals-sign\n")
    bad = serve_cmd(free_port(), f"sqlite:///{tmp_path}/fm.db", "--tokens-file", str(tokens))
    with pytest.raises(RuntimeError, match="expected token=tenant"), run_server(bad, timeout=15):
        pass


async def test_unreachable_server_fails_fast():
    client = FlowMesh(f"127.0.0.1:{free_port()}", connect_timeout=1.0)
    with pytest.raises(FlowMeshConnectionError, match="did not answer within 1s"):
        await client.connect()
    with pytest.raises(FlowMeshConnectionError, match="not connected"):
        await client.kv.get("acme", "ns", "kv", "k")
    assert issubclass(FlowMeshConnectionError, FlowMeshError)


async def test_calls_time_out_against_a_server_that_went_away(
    tmp_path: Path, serve_cmd: Callable[..., list[str]]
):
    port = free_port()
    with run_server(serve_cmd(port, f"sqlite:///{tmp_path}/fm.db")):
        client = FlowMesh(f"127.0.0.1:{port}", timeout=1.0)
        await client.connect()
        await client.kv.set("acme", "ns", "kv", "k", b"v")
    try:
        with pytest.raises(FlowMeshConnectionError):
            await client.kv.set("acme", "ns", "kv", "k", b"v")
    finally:
        await client.close()
