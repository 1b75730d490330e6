"""Whether an httpx request that got no answer may have reached the server.

The sans-I/O :mod:`common_core.retry` needs one fact from the transport:
could the server have seen the request? For httpx it could not when the
connection was never made (``ConnectError``: refused, DNS failure, TLS
handshake; ``ConnectTimeout``) or no pooled connection was free
(``PoolTimeout``). After a write or read error or timeout it may have.
"""

from __future__ import annotations

import httpx

__all__ = ["maybe_sent"]

_NEVER_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def maybe_sent(error: httpx.TransportError) -> bool:
    """False only when the request surely never left this process."""
    return not isinstance(error, _NEVER_SENT)
