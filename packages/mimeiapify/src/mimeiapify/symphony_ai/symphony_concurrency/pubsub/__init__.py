"""1.4's path of the pub/sub helpers; they live in :mod:`mimeiapify.symphony_ai.redis.pubsub`."""

from mimeiapify.symphony_ai.redis.pubsub import publish_json, subscribe

__all__ = ["publish_json", "subscribe"]
