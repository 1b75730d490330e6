"""The symphony_ai quick-start of the package README (seed 000), run against the real Redis.

Code between ``# --- seed`` and ``# --- end seed`` is the README's, with two
edits: its imports spell the package ``mimieiapify`` (a typo for ``mimeiapify``,
the name it installs as), and its Redis host ``cache`` is this machine's test
Redis. ``agency`` is left to the reader by the README; here it is a minimal
stand-in that, like an Agency-Swarm agency, runs a tool synchronously on the
calling (pool) thread, with no model call.
"""

# The seed code below is kept exactly as the guide prints it, so it is not reformatted
# and a few style rules do not apply to it.
# ruff: noqa: E501, F401, F811, I001
# fmt: off

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from mimeiapify.symphony_ai import GlobalSymphony
from mimeiapify.symphony_ai.tools import AsyncBaseTool


async def test_quick_start_lifespan_handler_and_tool(
    redis_url: str, symphony_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cache_url = redis_url

    # --- seed: 1. FastAPI lifespan
    from contextlib import asynccontextmanager
    from mimeiapify.symphony_ai.globals import GlobalSymphony, GlobalSymphonyConfig
    from mimeiapify.symphony_ai.utils.logger import setup_logging
    from mimeiapify.symphony_ai.redis import _current_ss, SharedStateRepo

    @asynccontextmanager
    async def lifespan(app):
        setup_logging(level="INFO", mode="DEV", log_dir="./logs")
        await GlobalSymphony.create(GlobalSymphonyConfig(redis_url=cache_url))
        yield                                     # shutdown handled automatically
    # --- end seed

    # --- seed: 3. Inside any Tool
    class RememberStep(AsyncBaseTool):
        def run(self, state_name: str, step: int):
            coro = self._shared_state.set_field(state_name, "step", step)
            loop = GlobalSymphony.get().loop
            return asyncio.run_coroutine_threadsafe(coro, loop).result()
    # --- end seed

    class ToolRunningAgency:
        def get_completion(self, text: str) -> Any:
            return RememberStep().run("onboarding", int(text))

    agency = ToolRunningAgency()

    # --- seed: 2. Request / WebSocket handler
    async def handle_message(tenant: str, user_id: str, text: str):
        ss = SharedStateRepo(tenant=tenant, user_id=user_id)           # ①
        token = _current_ss.set(ss)                                    # ② bind ContextVar
        try:
            pool = GlobalSymphony.get().pool_user
            fut  = pool.submit(lambda: agency.get_completion(text))    # ③ sync API call
            return await asyncio.wrap_future(fut)
        finally:
            _current_ss.reset(token)                                   # ④ avoid leaks
    # --- end seed

    try:
        async with lifespan(app=None):
            results = await asyncio.gather(
                *(handle_message("acme", f"user{i}", str(i)) for i in range(20))
            )
            assert results == [True] * 20
            for i in range(20):
                step = await SharedStateRepo(tenant="acme", user_id=f"user{i}").get_field("onboarding", "step")
                assert step == i
    finally:
        await GlobalSymphony.shutdown()
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_mimeiapify_installed", False):
                root.removeHandler(handler)
                handler.close()
    # as in 1.4: the root logger writes a daily file in DEV mode
    (log_file,) = (tmp_path / "logs").glob("app_logs_*.log")
    assert "| INFO | mimeiapify | GlobalSymphony ready" in log_file.read_text()
