"""Who may call the service: Paragon workflows (incoming) and operators (admin).

Each org's workflows hold their own secret, derived from the service's
``incoming_secret``, so a secret leaked from one org's workflow cannot post
into another org. A workflow sends it either as is, in
``X-Slack-Connect-Secret`` (compared in constant time), or as the key of a
short-lived HS256 token in ``Authorization: Bearer`` (``sub`` = the org,
``exp`` at most an hour ahead), so the secret itself never travels.
"""

from __future__ import annotations

import hashlib
import hmac

import jwt

__all__ = [
    "INCOMING_SECRET_HEADER",
    "check_bearer",
    "check_incoming",
    "check_incoming_token",
    "org_incoming_secret",
]

INCOMING_SECRET_HEADER = "X-Slack-Connect-Secret"  # noqa: S105 - a header name


def org_incoming_secret(master_secret: str, org_id: str) -> str:
    """The secret an org's Paragon workflows send in ``X-Slack-Connect-Secret``."""
    return hmac.new(
        master_secret.encode(), f"slack-connect:incoming:{org_id}".encode(), hashlib.sha256
    ).hexdigest()


def check_incoming(master_secret: str, org_id: str, presented: str | None) -> bool:
    expected = org_incoming_secret(master_secret, org_id)
    return hmac.compare_digest((presented or "").encode(), expected.encode())


MAX_TOKEN_LIFETIME = 3600


def check_incoming_token(master_secret: str, org_id: str, authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        claims = jwt.decode(
            token,
            org_incoming_secret(master_secret, org_id),
            algorithms=["HS256"],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return False
    lifetime = int(claims["exp"]) - int(claims["iat"])
    return hmac.compare_digest(str(claims["sub"]), org_id) and lifetime <= MAX_TOKEN_LIFETIME


def check_bearer(expected_token: str, authorization: str | None) -> bool:
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {expected_token}".encode())
