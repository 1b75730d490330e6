"""Who may call the service: Paragon workflows (incoming) and operators (admin).

Each org's workflows hold their own secret, derived from the service's
``incoming_secret``, so a secret leaked from one org's workflow cannot post
into another org. Comparisons are constant time.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["INCOMING_SECRET_HEADER", "check_bearer", "check_incoming", "org_incoming_secret"]

INCOMING_SECRET_HEADER = "X-Slack-Connect-Secret"  # noqa: S105 - a header name


def org_incoming_secret(master_secret: str, org_id: str) -> str:
    """The secret an org's Paragon workflows send in ``X-Slack-Connect-Secret``."""
    return hmac.new(
        master_secret.encode(), f"slack-connect:incoming:{org_id}".encode(), hashlib.sha256
    ).hexdigest()


def check_incoming(master_secret: str, org_id: str, presented: str | None) -> bool:
    expected = org_incoming_secret(master_secret, org_id)
    return hmac.compare_digest((presented or "").encode(), expected.encode())


def check_bearer(expected_token: str, authorization: str | None) -> bool:
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {expected_token}".encode())
