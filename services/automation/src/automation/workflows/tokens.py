"""Inbound-webhook URL tokens of webhook-triggered workflows (issue 16).

The token is the secret part of ``/api/v1/hooks/workflows/{id}/{token}``. Only its
hash is stored (``workflows.webhook_token``, as ``sha256:<hex>``); the token itself is
shown once, in the response that issued it (create, the update that made the
workflow webhook-triggered, or a rotation).

A plain, unkeyed SHA-256 is enough here, unlike for passwords: the token is 32 random
bytes (256 bits) from :mod:`secrets`, so a stolen hash cannot be reversed by guessing,
and no key has to be kept (or rotated) beside it. Migration 0416 hashes old plaintext
rows the same way, so URLs issued before the upgrade keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "sha256:"
# Stands for the token in URLs shown after it was issued, and in logs and spans.
HIDDEN = "***"

# Compared against when the workflow is unknown or has no token, so the time taken
# says nothing about which of those it was.
_NO_MATCH = PREFIX + "0" * 64


def new_token() -> str:
    """A fresh URL-safe token: 32 random bytes, 43 characters."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for ``token``."""
    return PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str, stored: str | None) -> bool:
    """Whether ``token`` is the one whose hash is ``stored``, in constant time."""
    known = stored is not None and stored.startswith(PREFIX)
    expected = stored if stored is not None and known else _NO_MATCH
    valid = hmac.compare_digest(token_hash(token).encode(), expected.encode())
    return valid and known
