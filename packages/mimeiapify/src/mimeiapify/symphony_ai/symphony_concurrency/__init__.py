"""1.4's path of the runtime; it lives in :mod:`mimeiapify.symphony_ai.globals`."""

from mimeiapify.symphony_ai.globals import GlobalSymphony, GlobalSymphonyConfig

__all__ = ["GlobalSymphony", "GlobalSymphonyConfig"]
