"""1.4's path of the Agency-Swarm tool helpers (needs the ``agency`` extra); they live
in :mod:`mimeiapify.symphony_ai.tools` and :mod:`mimeiapify.symphony_ai.user_threads`."""

from mimeiapify.symphony_ai.tools import AsyncBaseTool
from mimeiapify.symphony_ai.user_threads import UserThreads

__all__ = ["AsyncBaseTool", "UserThreads"]
