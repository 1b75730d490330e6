"""1.4's path of ``AsyncBaseTool``; it lives in :mod:`mimeiapify.symphony_ai.tools`."""

from mimeiapify.symphony_ai.tools import AsyncBaseTool

__all__ = ["AsyncBaseTool"]
