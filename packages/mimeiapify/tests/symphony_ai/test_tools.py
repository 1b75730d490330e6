"""AsyncBaseTool with the real agency-swarm package (no model call)."""

from __future__ import annotations

import asyncio

import pytest
from agency_swarm.tools import BaseTool
from pydantic import Field

from mimeiapify.symphony_ai import BridgeError, GlobalSymphony
from mimeiapify.symphony_ai.redis import RedisSharedState, _current_ss
from mimeiapify.symphony_ai.redis.context import NoSharedStateError
from mimeiapify.symphony_ai.tools import AsyncBaseTool


class CountVisit(AsyncBaseTool):
    """Count a visit to a page in the user's shared state."""

    page: str = Field(..., description="Page visited")

    def run(self) -> int:
        self.set_state("last", {"page": self.page})
        assert self.get_state_field("last", "page") == self.page
        assert self._shared_state is self.shared_state  # the Agency-Swarm attribute, per request
        return int(self.run_async(self.shared_state.increment_field("visits", self.page)))


def test_is_a_real_agency_swarm_tool() -> None:
    assert issubclass(CountVisit, BaseTool)
    schema = CountVisit.openai_schema
    assert schema["name"] == "CountVisit"
    assert schema["parameters"]["required"] == ["page"]
    assert schema["description"].startswith("Count a visit")


async def test_tools_in_threads_use_their_own_requests_state(symphony: GlobalSymphony) -> None:
    async def request(user: str, pages: list[str]) -> list[int]:
        token = _current_ss.set(RedisSharedState(tenant="t", user_id=user))
        try:
            return [await symphony.pool_tool.run(CountVisit(page=p).run) for p in pages]
        finally:
            _current_ss.reset(token)

    a, b = await asyncio.gather(request("a", ["home", "home", "cart"]), request("b", ["home"]))
    assert a == [1, 2, 1] and b == [1]
    assert await RedisSharedState(tenant="t", user_id="a").get("visits") == {"home": 2, "cart": 1}
    assert await RedisSharedState(tenant="t", user_id="a").get("last") == {"page": "cart"}


async def test_misuse_gives_clear_errors(symphony: GlobalSymphony) -> None:
    tool = CountVisit(page="x")
    with pytest.raises(NoSharedStateError, match="no shared state is bound"):
        await symphony.pool_tool.run(tool.run)
    token = _current_ss.set(RedisSharedState(tenant="t", user_id="loop"))
    try:
        with pytest.raises(BridgeError, match="event loop's own thread"):
            tool.run()  # a sync tool called directly on the loop would deadlock: refused
    finally:
        _current_ss.reset(token)
