"""The code blocks of the symphony_ai README, executed as written against the real Redis."""

import asyncio
import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import mimeiapify.symphony_ai
from mimeiapify.symphony_ai import GlobalSymphony
from mimeiapify.symphony_ai.redis import RedisSharedState, _current_ss

README = Path(mimeiapify.symphony_ai.__file__).with_name("README.md")


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_the_three_examples() -> None:
    assert len(blocks()) == 3


def test_startup_and_request_example(
    redis_url: str, symphony_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(blocks()[0], namespace)
    with TestClient(namespace["app"]) as client:
        reply = client.post(
            "/chat", params={"text": "hi"}, headers={"x-tenant-id": "t", "x-user-id": "ana"}
        )
        assert reply.json() == "ana said hi"
    assert list((tmp_path / "logs").glob("app_logs_*.log"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mimeiapify_installed", False):
            root.removeHandler(handler)
            handler.close()


async def test_tool_example(symphony: GlobalSymphony) -> None:
    namespace: dict[str, Any] = {}
    exec(blocks()[1], namespace)
    tool = namespace["RememberEmail"](email="a@b.co")
    token = _current_ss.set(RedisSharedState(tenant="t", user_id="ana"))
    try:
        reply = await asyncio.wrap_future(symphony.pool_tool.submit(tool.run))
    finally:
        _current_ss.reset(token)
    assert reply == "stored for ana"
    assert await RedisSharedState(tenant="t", user_id="ana").get("profile") == {"email": "a@b.co"}


async def test_triggers_example(
    redis_url: str, symphony_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMPHONY_REDIS_URL", redis_url)
    body = (
        "async def example():\n" + textwrap.indent(blocks()[2], "    ") + "\n    return locals()\n"
    )
    namespace: dict[str, Any] = {
        "GlobalSymphony": GlobalSymphony,
        "GlobalSymphonyConfig": mimeiapify.symphony_ai.GlobalSymphonyConfig,
    }
    exec(body, namespace)
    try:
        local = await namespace["example"]()
        triggers = local["RedisTrigger"](tenant="acme")
        assert await triggers.get_ttl(triggers.key("send_reminder", "user_123")) > 3500
        channel = local["UserChannel"]("acme", "user_123")
        async with channel.subscription(poll_interval=0.1) as messages:
            await local["RedisTrigger"](tenant="acme").set(
                "send_reminder", "user_123", ttl_seconds=1
            )
            assert await messages.next(wait=10) == {"type": "reminder"}
    finally:
        await GlobalSymphony.shutdown()
