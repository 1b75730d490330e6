"""The package README's example runs as written against a real server (both stores)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[1] / "README.md"


async def test_readme_example_runs(server: str, capsys: pytest.CaptureFixture[str]):
    [example] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    source = example.replace("localhost:50051", server)
    # The example ends in asyncio.run(main()), so give it a thread without a loop.
    await asyncio.to_thread(exec, compile(source, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "b'{\"id\": 1}' True" in out
    assert "lag 0" in out
    assert 'refused: events[0].payload: $: "id" is a required property' in out
    assert "checked against version 1" in out
    assert "replayed 0\nreplayed 1\n" in out
    assert "current_offset=2 messages_replayed=2 errors=0" in out
    assert "completed_jobs=1" in out
    assert "b'token'" in out
    assert "missing: kv.get failed: key 'user:2' does not exist" in out
