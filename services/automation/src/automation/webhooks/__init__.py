"""Signed webhooks (Standard Webhooks): signing, retry schedule, SSRF guard, delivery."""

from automation.delivery.retry import DEFAULT_SCHEDULE_SECONDS, RetrySchedule
from automation.netguard import (
    AddressPolicy,
    BlockedAddressError,
    GuardedTransport,
    InvalidWebhookURL,
    address_class,
    check_url,
)
from automation.webhooks.responses import (
    Classification,
    Verdict,
    classify_error,
    classify_status,
    parse_retry_after,
)
from automation.webhooks.sender import (
    DEFAULT_TIMEOUT_SECONDS,
    AttemptResult,
    OutgoingWebhook,
    WebhookSender,
)
from automation.webhooks.signing import (
    InvalidWebhookSecret,
    SignedHeaders,
    WebhookSignatureError,
    canonical_secret,
    generate_secret,
    sign,
    sign_headers,
    verify,
)

__all__ = [
    "DEFAULT_SCHEDULE_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "AddressPolicy",
    "AttemptResult",
    "BlockedAddressError",
    "Classification",
    "GuardedTransport",
    "InvalidWebhookSecret",
    "InvalidWebhookURL",
    "OutgoingWebhook",
    "RetrySchedule",
    "SignedHeaders",
    "Verdict",
    "WebhookSender",
    "WebhookSignatureError",
    "address_class",
    "canonical_secret",
    "check_url",
    "classify_error",
    "classify_status",
    "generate_secret",
    "parse_retry_after",
    "sign",
    "sign_headers",
    "verify",
]
