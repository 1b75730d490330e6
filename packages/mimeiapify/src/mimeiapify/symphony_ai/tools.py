"""Agency-Swarm bridge: ``AsyncBaseTool`` reads the request's shared state from a ContextVar.

Agency-Swarm 0.x keeps ``BaseTool._shared_state`` as a class attribute, so two
concurrent requests would overwrite each other's state. ``AsyncBaseTool``
replaces it with a property that reads ``_current_ss``: each request (and every
worker thread running its tools) sees its own ``RedisSharedState``.

Write a tool either way:

* 1.4's: implement only ``async def _arun(self)``; the inherited ``run()`` runs it
  on GlobalSymphony's loop and blocks the worker thread until it is done. The
  sync helpers (``get_state``, ``upsert_state``, ``get_field``, ...) and ``ss``
  work from inside ``run``-style tools too.
* sync: implement ``run(self)`` and use ``run_async(coro)`` or the helpers.

Needs the ``agency`` extra: ``pip install "mimeiapify[agency]"``.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from agency_swarm.tools import BaseTool
from pydantic import ConfigDict

from mimeiapify.symphony_ai.bridge import run_sync
from mimeiapify.symphony_ai.redis.context import current_shared_state
from mimeiapify.symphony_ai.redis.redis_handler.shared_state import RedisSharedState
from mimeiapify.utils.logger import logger

T = TypeVar("T")


def _bridge_timeout() -> float | None:
    from mimeiapify.symphony_ai.globals import GlobalSymphony

    return GlobalSymphony.get().config.bridge_timeout


class AsyncBaseTool(BaseTool):
    """A BaseTool whose shared state is the one bound to the current request."""

    # as in 1.4: Agency-Swarm may attach attributes (name, description, ...)
    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    # ---- running ---------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run :meth:`_arun` on GlobalSymphony's loop and return its result (1.4's
        contract). Tools that override ``run`` never get here."""
        if type(self)._arun is AsyncBaseTool._arun:
            raise NotImplementedError(
                f"{type(self).__name__} must implement `async def _arun(self)` or `run(self)`"
            )
        try:
            # like 1.4, wait as long as the tool takes (no bridge timeout here)
            return run_sync(self._arun(*args, **kwargs), timeout=None)
        except Exception:
            logger.exception("tool %s failed", getattr(self, "name", type(self).__name__))
            raise

    async def _arun(self, *args: Any, **kwargs: Any) -> Any:
        """Override with the tool's async work; return what the agent should see."""
        raise NotImplementedError

    def run_async(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on GlobalSymphony's loop from this worker thread; return its
        result (within ``GlobalSymphonyConfig.bridge_timeout`` unless ``timeout``)."""
        return run_sync(coro, timeout=timeout if timeout is not None else _bridge_timeout())

    def _await(self, coro: Coroutine[Any, Any, T], /, timeout: float | None = None) -> T:
        """1.4's bridge: like :meth:`run_async` but waits forever unless ``timeout``."""
        return run_sync(coro, timeout=timeout)

    # ---- the request's shared state ----------------------------------------------------
    @property
    def _shared_state(self) -> RedisSharedState:
        return current_shared_state()

    @property
    def shared_state(self) -> RedisSharedState:
        """The request's shared state (raises a clear error when none is bound)."""
        return current_shared_state()

    ss = shared_state  # 1.4's name

    # ---- 1.4's sync helpers -----------------------------------------------------------
    def get_state(self, key: str) -> dict[str, Any] | None:
        return self._await(self.ss.get(key))

    def upsert_state(self, key: str, data: dict[str, Any], ttl: int | None = None) -> bool:
        return self._await(self.ss.upsert(key, data, ttl))

    def get_field(self, key: str, field: str) -> Any:
        return self._await(self.ss.get_field(key, field))

    def update_field(self, key: str, field: str, value: Any, ttl: int | None = None) -> bool:
        return self._await(self.ss.update_field(key, field, value, ttl))

    def delete_field(self, key: str, field: str) -> int:
        return self._await(self.ss.delete_field(key, field))

    def delete_state(self, key: str) -> int:
        return self._await(self.ss.delete(key))

    def clear_all_states(self) -> int:
        return self._await(self.ss.clear_all_states())

    def list_states(self) -> list[str]:
        return self._await(self.ss.list_states())

    def state_exists(self, key: str) -> bool:
        return self._await(self.ss.exists(key))

    # ---- the guide's sync helpers (bounded by the bridge timeout) -----------------------
    def set_state(self, state_name: str, data: dict[str, Any]) -> bool:
        return self.run_async(self.shared_state.set(state_name, data))

    def get_state_field(self, state_name: str, field: str) -> Any:
        return self.run_async(self.shared_state.get_field(state_name, field))

    def set_state_field(self, state_name: str, field: str, value: Any) -> bool:
        return self.run_async(self.shared_state.set_field(state_name, field, value))
