"""Infrastructure for the repositories: key names, value encoding, the base class."""

from mimeiapify.symphony_ai.redis.redis_handler.utils.key_factory import (
    KeyFactory,
    escape,
    unescape,
)
from mimeiapify.symphony_ai.redis.redis_handler.utils.serde import (
    dumps,
    dumps_hash,
    dumps_json,
    loads,
    loads_hash,
    loads_json,
    to_model,
)
from mimeiapify.symphony_ai.redis.redis_handler.utils.tenant_cache import TenantCache

__all__ = [
    "KeyFactory",
    "TenantCache",
    "dumps",
    "dumps_hash",
    "dumps_json",
    "escape",
    "loads",
    "loads_hash",
    "loads_json",
    "to_model",
    "unescape",
]
