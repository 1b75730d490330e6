"""Agency-Swarm bridge: ``AsyncBaseTool`` reads the request's shared state from a ContextVar.

Agency-Swarm 0.x keeps ``BaseTool._shared_state`` as a class attribute, so two
concurrent requests would overwrite each other's state. ``AsyncBaseTool``
replaces it with a property that reads ``_current_ss``: each request (and every
worker thread running its tools) sees its own ``RedisSharedState``.

Needs the ``agency`` extra: ``pip install "mimeiapify[agency]"``.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Coroutine
from typing import Any, TypeVar

from agency_swarm.tools import BaseTool

from mimeiapify.symphony_ai.bridge import run_sync
from mimeiapify.symphony_ai.redis.context import current_shared_state
from mimeiapify.symphony_ai.redis.redis_handler.shared_state import RedisSharedState

T = TypeVar("T")


def _bridge_timeout() -> float:
    from mimeiapify.symphony_ai.globals import GlobalSymphony

    return GlobalSymphony.get().config.bridge_timeout


class AsyncBaseTool(BaseTool, ABC):
    """A BaseTool whose shared state is the one bound to the current request."""

    @property
    def _shared_state(self) -> RedisSharedState:
        return current_shared_state()

    @property
    def shared_state(self) -> RedisSharedState:
        """The request's shared state (raises a clear error when none is bound)."""
        return current_shared_state()

    def run_async(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on GlobalSymphony's loop from this worker thread; return its result."""
        return run_sync(coro, timeout=timeout if timeout is not None else _bridge_timeout())

    def get_state(self, state_name: str) -> dict[str, Any]:
        return self.run_async(self.shared_state.get(state_name)) or {}

    def set_state(self, state_name: str, data: dict[str, Any]) -> bool:
        return self.run_async(self.shared_state.set(state_name, data))

    def get_state_field(self, state_name: str, field: str) -> Any:
        return self.run_async(self.shared_state.get_field(state_name, field))

    def set_state_field(self, state_name: str, field: str, value: Any) -> bool:
        return self.run_async(self.shared_state.set_field(state_name, field, value))
