"""symphony_ai: a runtime for Agency-Swarm agents with tenant-scoped state in Redis.

``GlobalSymphony`` owns the event loop reference, three context-carrying thread
pools, a capacity limiter and the Redis clients; the repositories in
:mod:`mimeiapify.symphony_ai.redis` keep per-tenant data; ``_current_ss`` binds
the request's shared state so tools in worker threads find it.
"""

from mimeiapify.symphony_ai import openai_utils, redis
from mimeiapify.symphony_ai.bridge import run_sync
from mimeiapify.symphony_ai.errors import (
    BridgeError,
    ExecutorFullError,
    InvalidKeyPartError,
    NotInitializedError,
    SerializationError,
    StoredValueError,
    SymphonyError,
)
from mimeiapify.symphony_ai.executors import BoundedExecutor, ContextThreadPoolExecutor
from mimeiapify.symphony_ai.globals import GlobalSymphony, GlobalSymphonyConfig

__all__ = [
    "BoundedExecutor",
    "BridgeError",
    "ContextThreadPoolExecutor",
    "ExecutorFullError",
    "GlobalSymphony",
    "GlobalSymphonyConfig",
    "InvalidKeyPartError",
    "NotInitializedError",
    "SerializationError",
    "StoredValueError",
    "SymphonyError",
    "openai_utils",
    "redis",
    "run_sync",
]
