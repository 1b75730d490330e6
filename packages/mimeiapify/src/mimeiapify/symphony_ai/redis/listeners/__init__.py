"""Key-expiry triggers: expired ``RedisTrigger`` keys dispatched to async handlers.

1.4's surface (``expiration_registry``, ``run_expiry_listener``) and the
:class:`ExpirationListener` that both it and ``GlobalSymphony`` run.
"""

from mimeiapify.symphony_ai.redis.listeners.expiry_listener import (
    ExpirationListener,
    ensure_expiry_notifications,
    run_listener,
)
from mimeiapify.symphony_ai.redis.listeners.handler_registry import (
    ExpirationHandlerRegistry,
    expiration_registry,
)

run_expiry_listener = run_listener

__all__ = [
    "ExpirationHandlerRegistry",
    "ExpirationListener",
    "ensure_expiry_notifications",
    "expiration_registry",
    "run_expiry_listener",
    "run_listener",
]
