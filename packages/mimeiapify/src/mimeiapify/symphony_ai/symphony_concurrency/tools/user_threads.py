"""1.4's path of ``UserThreads``; it lives in :mod:`mimeiapify.symphony_ai.user_threads`."""

from mimeiapify.symphony_ai.user_threads import UserThreads

__all__ = ["UserThreads"]
