"""The repository layer: one class per kind of tenant data."""

from mimeiapify.symphony_ai.redis.redis_handler.batch import RedisBatch
from mimeiapify.symphony_ai.redis.redis_handler.generic import RedisGeneric
from mimeiapify.symphony_ai.redis.redis_handler.shared_state import RedisSharedState
from mimeiapify.symphony_ai.redis.redis_handler.state_handler import RedisStateHandler
from mimeiapify.symphony_ai.redis.redis_handler.table import RedisTable
from mimeiapify.symphony_ai.redis.redis_handler.trigger import RedisTrigger
from mimeiapify.symphony_ai.redis.redis_handler.user import RedisUser, RedisUsers

__all__ = [
    "RedisBatch",
    "RedisGeneric",
    "RedisSharedState",
    "RedisStateHandler",
    "RedisTable",
    "RedisTrigger",
    "RedisUser",
    "RedisUsers",
]
