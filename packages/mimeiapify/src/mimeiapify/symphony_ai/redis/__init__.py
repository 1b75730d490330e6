"""Redis plumbing and repositories for symphony_ai.

``SharedStateRepo``, ``HandlerRepo`` and ``TableRepo`` are the short names the
quick-start guide uses for ``RedisSharedState``, ``RedisStateHandler`` and ``RedisTable``.
"""

from mimeiapify.symphony_ai.redis import (
    atomic,
    context,
    listeners,
    ops,
    redis_handler,
)
from mimeiapify.symphony_ai.redis.context import _current_ss, current_shared_state
from mimeiapify.symphony_ai.redis.redis_client import (
    ALIASES,
    POOL_DB_MAPPING,
    RedisClient,
    RedisSettings,
)
from mimeiapify.symphony_ai.redis.redis_handler import (
    RedisBatch,
    RedisGeneric,
    RedisSharedState,
    RedisStateHandler,
    RedisTable,
    RedisTrigger,
    RedisUser,
    RedisUsers,
)
from mimeiapify.symphony_ai.redis.redis_handler.utils import KeyFactory, TenantCache, dumps, loads
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import DEFAULT_TTL, NO_EXPIRY

SharedStateRepo = RedisSharedState
HandlerRepo = RedisStateHandler
TableRepo = RedisTable

__all__ = [
    "ALIASES",
    "DEFAULT_TTL",
    "NO_EXPIRY",
    "POOL_DB_MAPPING",
    "HandlerRepo",
    "KeyFactory",
    "RedisBatch",
    "RedisClient",
    "RedisGeneric",
    "RedisSettings",
    "RedisSharedState",
    "RedisStateHandler",
    "RedisTable",
    "RedisTrigger",
    "RedisUser",
    "RedisUsers",
    "SharedStateRepo",
    "TableRepo",
    "TenantCache",
    "_current_ss",
    "atomic",
    "context",
    "current_shared_state",
    "dumps",
    "listeners",
    "loads",
    "ops",
    "redis_handler",
]
