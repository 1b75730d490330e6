"""Every example of the SDK contract (seed 003) runs as written against a real server.

The blocks come verbatim from ``seed_003_examples.md``; they run in order in one
shared namespace, the way a reader pastes them (later blocks use earlier
imports). The only substitution is the endpoint: the seed says
``localhost:50051`` and the test server listens on a free port. The helpers
the examples call but leave to the reader (``process_message``,
``process_job``) are defined here and record what they were given.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from flowmesh import Event, FlowMesh, FlowMeshError, FlowMeshNotFoundError

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).with_name("seed_003_examples.md")
SEED_ENDPOINT = "localhost:50051"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", EXAMPLES.read_text(), re.S)


class StopSubscription(Exception):
    """Raised by process_message to leave the seed's endless subscribe loop."""


async def run_block(source: str, namespace: dict[str, Any], endpoint: str) -> None:
    code = compile(
        source.replace(SEED_ENDPOINT, endpoint),
        "<seed example>",
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
    )
    result = eval(code, namespace)
    if asyncio.iscoroutine(result):
        await result


async def test_every_seed_example_runs_unchanged(server: str, capsys: pytest.CaptureFixture[str]):
    examples = blocks()
    assert len(examples) == 13
    ns: dict[str, Any] = {"__name__": "seed_examples"}
    seen_messages: list[Any] = []
    processed: list[Any] = []

    def process_message(msg: Any) -> None:
        seen_messages.append(msg)
        raise StopSubscription

    ns["process_message"] = process_message

    async with FlowMesh(endpoint=server) as helper:
        # 0. Create a client: defines main() twice and calls asyncio.run, so it
        # needs a thread without a running event loop.
        await asyncio.to_thread(exec, examples[0].replace(SEED_ENDPOINT, server), ns)

        # 1. Write events.
        await run_block(examples[1], ns, server)
        assert "Events written at offsets: [" in capsys.readouterr().out
        latest = await helper.stream.get_latest_offset("tenant", "namespace", "stream-name")
        assert latest >= 0

        # 2. Read messages from offset 0.
        await run_block(examples[2], ns, server)
        out = capsys.readouterr().out
        assert 'Offset: 0, Payload: b\'{"order_id": "123", "amount": 99.99}\'' in out

        # 3. Subscribe from the latest offset, process one message, commit it.
        # The example loops forever; our process_message ends it after one.
        task = asyncio.create_task(run_block(examples[3], ns, server))
        while not task.done():
            await helper.stream.write(
                "tenant", "namespace", "stream-name", [Event(payload=b"live")]
            )
            await asyncio.wait([task], timeout=0.2)
        with pytest.raises(StopSubscription):
            await task
        assert seen_messages[0].payload == b"live"
        assert seen_messages[0].offset > latest  # -2 means "only new messages"

        # 4. Enqueue with a delay: the job waits.
        await run_block(examples[4], ns, server)
        assert isinstance(ns["job_id"], str) and ns["seq"] >= 1
        stats = await helper.queue.get_stats("tenant", "namespace", "queue-name")
        assert stats.delayed_jobs >= 1

        # 5. Reserve and ack: give it a job that is due now.
        await helper.queue.enqueue("tenant", "namespace", "queue-name", b'{"task": "now"}')
        ns["process_job"] = processed.append
        await run_block(examples[5], ns, server)
        assert processed and processed[-1].payload == b'{"task": "now"}'

        # 6. Batch receive.
        for i in range(3):
            await helper.queue.enqueue("tenant", "namespace", "queue-name", b"batch%d" % i)
        await run_block(examples[6], ns, server)
        assert [j.payload for j in ns["jobs"]] == [b"batch0", b"batch1", b"batch2"]

        # 7. Worker pattern: an endless loop of reserve / process / ack-or-nack.
        handled: list[bytes] = []

        async def process_job(job: Any) -> None:
            handled.append(job.payload)
            if job.payload == b"fails":
                raise RuntimeError("job failed")

        ns["process_job"] = process_job
        await helper.queue.enqueue("tenant", "namespace", "queue-name", b"works")
        await helper.queue.enqueue("tenant", "namespace", "queue-name", b"fails")
        worker = asyncio.create_task(run_block(examples[7], ns, server))
        for _ in range(100):
            if b"works" in handled and b"fails" in handled:
                break
            await asyncio.sleep(0.1)
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        assert b"works" in handled and b"fails" in handled

        # 8. Queue statistics.
        await run_block(examples[8], ns, server)
        assert "Pending: " in capsys.readouterr().out
        assert ns["stats"].completed_jobs >= 2

        # 9-11. KV: set with TTL and get; list keys; exists and delete.
        await run_block(examples[9], ns, server)
        assert ns["value"] == b'{"value": "data"}'
        await helper.kv.set("tenant", "namespace", "store-name", "user:1", b"u1")
        await run_block(examples[10], ns, server)
        assert ns["keys"] == ["key", "user:1"]
        assert ns["user_keys"] == ["user:1"]
        await run_block(examples[11], ns, server)
        assert ns["exists"] is True
        assert not await helper.kv.exists("tenant", "namespace", "store-name", "key")

    # 12. Error handling. The seed's snippet is a sketch, not valid Python (its
    # except clauses hold only comments), so run its import line as written
    # and check what the sketch promises: a missing stream raises
    # FlowMeshNotFoundError, which is a FlowMeshError.
    with pytest.raises(SyntaxError):
        compile(examples[12], "<seed example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    await run_block(examples[12].splitlines()[0], ns, server)
    assert ns["FlowMeshNotFoundError"] is FlowMeshNotFoundError
    assert issubclass(FlowMeshNotFoundError, FlowMeshError)
    async with FlowMesh(endpoint=server) as c:
        with pytest.raises(FlowMeshNotFoundError):
            await c.stream.read("tenant", "namespace", "no-such-stream")
