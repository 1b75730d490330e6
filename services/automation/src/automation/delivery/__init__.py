"""What every outgoing delivery shares, webhooks and notifications alike.

- :mod:`automation.delivery.leasing`: workers claim due rows with a lease, so no
  lock is held across a network call;
- :mod:`automation.delivery.retry`: the retry schedule (waits, jitter,
  ``Retry-After`` stretching the next wait);
- :mod:`automation.delivery.ratelimit`: moving-window rate limits per target
  (an endpoint, a channel and recipient), in Redis or memory.

Neither :mod:`automation.webhooks` nor :mod:`automation.notifications` imports
the other's internals; both import from here.
"""
