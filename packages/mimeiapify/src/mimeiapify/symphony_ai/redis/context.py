"""The request-scoped shared state: a ContextVar every tool can read.

Bind it once per request (``token = _current_ss.set(ss)`` ... ``_current_ss.reset(token)``,
or use :mod:`mimeiapify.symphony_ai.fastapi`). Coroutines started from the
request inherit it, and so does work submitted to GlobalSymphony's pools,
because those pools run each job in a copy of the submitter's context.
"""

from __future__ import annotations

from contextvars import ContextVar

from mimeiapify.symphony_ai.errors import SymphonyError
from mimeiapify.symphony_ai.redis.redis_handler.shared_state import RedisSharedState

_current_ss: ContextVar[RedisSharedState] = ContextVar("mimeiapify_current_shared_state")


class NoSharedStateError(SymphonyError, LookupError):
    """No shared state is bound to the current context."""


def current_shared_state() -> RedisSharedState:
    """The bound shared state, or a clear error saying how to bind one."""
    try:
        return _current_ss.get()
    except LookupError:
        raise NoSharedStateError(
            "no shared state is bound to this context: set "
            "`_current_ss` (or add SharedStateMiddleware) before running tools"
        ) from None


__all__ = ["NoSharedStateError", "RedisSharedState", "_current_ss", "current_shared_state"]
