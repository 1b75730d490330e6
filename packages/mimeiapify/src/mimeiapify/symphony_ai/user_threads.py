"""Agency-Swarm thread ids per user, kept in the user's record (``agent_threads`` field).

For Agency-Swarm 0.x ``threads_callbacks``::

    threads = UserThreads(tenant="acme", user_id="573001234567")
    agency = Agency(agents, threads_callbacks={
        "load": threads.sync_load_threads,      # called from the agency's worker thread
        "save": threads.sync_save_threads,
    })

The ``sync_*`` methods bridge to GlobalSymphony's loop (call them from worker
threads, never on the loop itself); the async ones are for the loop.
"""

from __future__ import annotations

from typing import Any

from mimeiapify.symphony_ai.bridge import run_sync
from mimeiapify.symphony_ai.redis.redis_handler.user import RedisUser

THREADS_FIELD = "agent_threads"


class UserThreads:
    """Load, save and delete one user's agent thread ids."""

    def __init__(self, *, tenant: str, user_id: str) -> None:
        self.tenant = tenant
        self.user_id = user_id
        self.repo = RedisUser(tenant=tenant, user_id=user_id)

    def __repr__(self) -> str:
        return f"UserThreads(tenant={self.tenant!r}, user_id={self.user_id!r})"

    async def load_threads(self) -> dict[str, Any]:
        """The stored threads, or ``{}`` when there are none (a fresh conversation)."""
        stored = await self.repo.get_field(THREADS_FIELD)
        return stored if isinstance(stored, dict) else {}

    async def save_threads(self, new_threads: dict[str, Any]) -> None:
        """Store the threads (nothing is written when they did not change)."""
        if await self.load_threads() != new_threads:
            await self.repo.update_field(THREADS_FIELD, new_threads)

    async def delete_threads(self) -> None:
        """Forget the threads, so the next conversation starts fresh."""
        await self.repo.delete_field(THREADS_FIELD)

    async def thread_exists(self, agent_name: str = "main_thread") -> bool:
        return agent_name in await self.load_threads()

    async def get_thread_id(self, agent_name: str = "main_thread") -> Any:
        return (await self.load_threads()).get(agent_name)

    async def clear_specific_thread(self, agent_name: str) -> None:
        """Drop one agent's thread and keep the others."""
        threads = await self.load_threads()
        if agent_name in threads:
            del threads[agent_name]
            await self.save_threads(threads)

    # ---- for Agency-Swarm's callbacks, from its worker threads -------------------------
    def sync_load_threads(self) -> dict[str, Any]:
        return run_sync(self.load_threads(), timeout=None)

    def sync_save_threads(self, new_threads: dict[str, Any]) -> None:
        run_sync(self.save_threads(new_threads), timeout=None)

    def sync_delete_threads(self) -> None:
        run_sync(self.delete_threads(), timeout=None)
