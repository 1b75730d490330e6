"""Replay sessions on both stores: a range (by offset or time) delivered to a
sandbox consumer group, paced, paused, resumed, stopped, surviving restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowmesh import (
    Event,
    FlowMesh,
    FlowMeshAlreadyExistsError,
    FlowMeshFailedPreconditionError,
    FlowMeshInvalidArgumentError,
    FlowMeshNotFoundError,
    Message,
)
from mimeia.testing import free_port, run_server

pytestmark = pytest.mark.integration
T = "acme"


def events(n: int, start: int = 0) -> list[Event]:
    return [Event(payload=b"e%d" % i) for i in range(start, start + n)]


async def drain(client: FlowMesh, ns: str, group: str, **kwargs: Any) -> list[Message]:
    """Everything a sandbox subscriber receives until the replay ends its subscription."""
    return [m async for m in client.stream.subscribe(T, ns, "s", group, **kwargs)]


async def test_offset_range_is_delivered_then_the_subscription_ends(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", events(10))
    session = await client.replay.create(T, ns, "s", "_replay_a", start_offset=2, end_offset=6)
    assert (session.status, session.start_offset, session.end_offset) == ("created", 2, 6)
    assert session.stream == f"{T}/{ns}/stream/s" and session.progress.current_offset == 2
    listener = asyncio.create_task(drain(client, ns, "_replay_a"))
    await asyncio.sleep(0.3)
    assert not listener.done()  # created, not started: nothing released yet
    await client.replay.start(session.session_id)
    got = await asyncio.wait_for(listener, 10)
    assert [(m.offset, m.payload) for m in got] == [(i, b"e%d" % i) for i in range(2, 7)]
    progress = await client.replay.progress(session.session_id)
    assert (progress.current_offset, progress.messages_replayed, progress.errors) == (7, 5, 0)
    assert progress.started_at is not None and progress.completed_at is not None
    done = await client.replay.get(session.session_id)
    assert done.status == "completed"
    # The group is a real consumer group: a commit is kept, and a resubscribe
    # from the commit gets only what was not committed.
    await client.stream.commit_offset(T, ns, "s", "_replay_a", 0, 4)
    assert [m.offset for m in await drain(client, ns, "_replay_a")] == [5, 6]
    with pytest.raises(FlowMeshFailedPreconditionError, match="is completed; pause needs"):
        await client.replay.pause(session.session_id)
    await client.replay.delete(session.session_id)
    with pytest.raises(FlowMeshNotFoundError, match="session_id: replay session"):
        await client.replay.get(session.session_id)


async def test_pause_holds_delivery_and_resume_continues(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", events(40))
    session = await client.replay.create(
        T, ns, "s", "_replay_p", start_offset=0, max_messages_per_second=40
    )
    assert session.end_offset == 39  # no end given: the latest offset at creation
    await client.stream.write(T, ns, "s", events(5, 40))  # written later: not replayed
    await client.replay.start(session.session_id)
    got: list[int] = []

    async def follow() -> None:
        async for m in client.stream.subscribe(T, ns, "s", "_replay_p", max_batch=0):
            got.append(m.offset)

    task = asyncio.create_task(follow())
    while len(got) < 8:
        await asyncio.sleep(0.02)
    await client.replay.pause(session.session_id)
    paused = await client.replay.get(session.session_id)
    assert paused.status == "paused" and paused.progress.paused_at is not None
    await asyncio.sleep(0.4)
    held = len(got)
    await asyncio.sleep(0.5)
    assert len(got) == held < 40  # nothing released while paused
    assert (await client.replay.progress(session.session_id)).messages_replayed == held
    await client.replay.resume(session.session_id)
    await asyncio.wait_for(task, 15)
    assert got == list(range(40))


async def test_stop_ends_the_subscription_and_time_ranges_work(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", events(3))
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await client.stream.write(T, ns, "s", events(3, 3))
    await asyncio.sleep(0.05)
    end = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await client.stream.write(T, ns, "s", events(2, 6))
    by_time = await client.replay.create(T, ns, "s", "_replay_t", start_time=middle, end_time=end)
    assert (by_time.start_offset, by_time.end_offset) == (3, 5)
    assert by_time.start_timestamp is not None
    await client.replay.start(by_time.session_id)
    assert [m.offset for m in await drain(client, ns, "_replay_t")] == [3, 4, 5]

    stopped = await client.replay.create(
        T, ns, "s", "_replay_s", start_offset=0, max_messages_per_second=5
    )
    await client.replay.start(stopped.session_id)
    task = asyncio.create_task(drain(client, ns, "_replay_s"))
    await asyncio.sleep(0.3)
    await client.replay.stop(stopped.session_id)
    partial = await asyncio.wait_for(task, 10)
    assert 1 <= len(partial) < 8 and [m.offset for m in partial] == list(range(len(partial)))
    assert (await client.replay.get(stopped.session_id)).status == "stopped"
    listed = await client.replay.list_sessions(T, ns, "s")
    assert {s.session_id for s in listed} == {by_time.session_id, stopped.session_id}


async def test_bad_ranges_and_names_are_refused(client: FlowMesh, ns: str, refused: Any):
    await client.stream.write(T, ns, "s", events(5))
    future = datetime.now(UTC) + timedelta(hours=1)
    cases = [
        (dict(start_offset=5), "start_offset: 5 is past the last offset (4)"),
        (dict(start_offset=3, end_offset=1), "end_offset: 1 is before the start (3)"),
        (dict(start_time=future), "start_timestamp: "),
        (
            dict(
                start_time=datetime.now(UTC) + timedelta(seconds=-0.001) + timedelta(hours=-1),
                end_time=datetime.now(UTC) - timedelta(hours=2),
            ),
            "end_timestamp: is before",
        ),
        (
            dict(
                start_time=datetime.now(UTC) - timedelta(hours=2),
                end_time=datetime.now(UTC) - timedelta(hours=1),
            ),
            "end_timestamp: no message",
        ),
        (dict(start_offset=0, partition=2000), "partition: must be between 0 and 1023"),
        (dict(start_offset=0, max_messages_per_second=-1), "max_messages_per_second: "),
    ]
    for kwargs, problem in cases:
        with refused("replay.create", problem):
            await client.replay.create(T, ns, "s", "_replay_x", **kwargs)
    with pytest.raises(FlowMeshInvalidArgumentError, match="in the future"):
        await client.replay.create(T, ns, "s", "_replay_x", start_time=future)
    with refused("replay.create", "sandbox_consumer_group: must start with '_replay_'"):
        await client.replay.create(T, ns, "s", "debug", start_offset=0)
    with pytest.raises(FlowMeshNotFoundError):
        await client.replay.create(T, ns, "missing", "_replay_x", start_offset=0)
    assert await client.replay.list_sessions(T, ns, "s") == []  # nothing half-made
    await client.replay.create(T, ns, "s", "_replay_x", start_offset=0)
    with pytest.raises(FlowMeshAlreadyExistsError, match="sandbox_consumer_group"):
        await client.replay.create(T, ns, "s", "_replay_x", start_offset=0)
    with pytest.raises(FlowMeshNotFoundError, match="consumer_group: no replay session"):
        await drain(client, ns, "_replay_nobody")
    with refused("stream.subscribe", "start_time: a replay's sandbox group starts where"):
        await drain(client, ns, "_replay_x", start_time=datetime.now(UTC))


async def test_retention_gaps_count_as_errors(client: FlowMesh, ns: str):
    await client.stream.write(T, ns, "s", events(10))
    session = await client.replay.create(T, ns, "s", "_replay_r", start_offset=2, end_offset=8)
    await client.stream.configure(T, ns, "s", retention_max_messages=5)
    await client.stream.write(T, ns, "s", events(1, 10))  # trims offsets 0-5
    await client.replay.start(session.session_id)
    assert [m.offset for m in await drain(client, ns, "_replay_r")] == [6, 7, 8]
    progress = await client.replay.progress(session.session_id)
    assert (progress.messages_replayed, progress.errors, progress.current_offset) == (3, 4, 9)


@pytest.mark.slow
async def test_sessions_and_progress_survive_a_restart(
    store_kind: str,
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    serve_cmd: Callable[..., list[str]],
    ns: str,
):
    url = (
        f"sqlite:///{tmp_path}/fm.db"
        if store_kind == "sqlite"
        else f"{redis_url}?prefix={redis_prefix}restart{ns}:"
    )
    port = free_port()
    with run_server(serve_cmd(port, url)):
        async with FlowMesh(f"127.0.0.1:{port}") as c:
            await c.stream.write(T, ns, "s", events(6))
            session = await c.replay.create(
                T, ns, "s", "_replay_k", start_offset=0, max_messages_per_second=20
            )
            await c.replay.start(session.session_id)
            first: list[int] = []
            async for m in c.stream.subscribe(T, ns, "s", "_replay_k", max_batch=1):
                first.append(m.offset)
                await c.stream.commit_offset(T, ns, "s", "_replay_k", 0, m.offset)
                if len(first) == 2:
                    break
    with run_server(serve_cmd(port, url)):
        async with FlowMesh(f"127.0.0.1:{port}") as c:
            kept = await c.replay.get(session.session_id)
            assert kept.status == "active" and kept.progress.messages_replayed >= 2
            rest = [m.offset async for m in c.stream.subscribe(T, ns, "s", "_replay_k")]
            assert first + rest == list(range(6))
            assert (await c.replay.get(session.session_id)).status == "completed"
