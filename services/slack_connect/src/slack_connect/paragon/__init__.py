"""Paragon: user tokens, the Proxy (Connect) API, the Users API and workflow triggers."""

from slack_connect.paragon.client import RAW_RESPONSE_HEADER, ParagonClient, unwrap_output
from slack_connect.paragon.errors import (
    ParagonAuthError,
    ParagonCredentialInvalid,
    ParagonError,
    ParagonNotFound,
    ParagonOutcomeUnknown,
    ParagonRateLimited,
    ParagonServerError,
    ParagonUnavailable,
)
from slack_connect.paragon.models import IntegrationState, ParagonUser, ProxyResponse, SyncWindow
from slack_connect.paragon.tokens import UserTokenSigner

__all__ = [
    "RAW_RESPONSE_HEADER",
    "IntegrationState",
    "ParagonAuthError",
    "ParagonClient",
    "ParagonCredentialInvalid",
    "ParagonError",
    "ParagonNotFound",
    "ParagonOutcomeUnknown",
    "ParagonRateLimited",
    "ParagonServerError",
    "ParagonUnavailable",
    "ParagonUser",
    "ProxyResponse",
    "SyncWindow",
    "UserTokenSigner",
    "unwrap_output",
]
