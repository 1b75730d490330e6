"""One signed POST to one receiver: the only webhook code that does network I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from automation.netguard import AddressPolicy, BlockedAddressError, GuardedTransport
from automation.webhooks.responses import Classification, classify_error, classify_status
from automation.webhooks.signing import sign_headers

DEFAULT_TIMEOUT_SECONDS = 15.0
RESPONSE_SNIPPET_BYTES = 1024
USER_AGENT = "mimeia-webhooks/1"
# Headers the signature and protocol own; an endpoint's custom headers cannot replace them.
_RESERVED_HEADERS = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length",
     "host", "transfer-encoding", "connection", "idempotency-key"}
)  # fmt: skip


@dataclass(frozen=True)
class OutgoingWebhook:
    """What to send: the same ``msg_id`` on every attempt of a message."""

    url: str
    msg_id: str
    body: bytes
    secrets: Sequence[str]
    headers: Mapping[str, str] = field(default_factory=dict)
    # the same on every attempt of one delivery (one message to one endpoint)
    idempotency_key: str | None = None


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt did, as recorded in the attempt log."""

    classification: Classification
    duration_ms: float
    status_code: int | None = None
    response_snippet: str = ""
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def reserved_header(name: str) -> bool:
    return name.lower() in _RESERVED_HEADERS


class WebhookSender:
    """Sends signed webhooks through the SSRF guard; never follows redirects."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = 100,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy, max_connections=max_connections),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, webhook: OutgoingWebhook, *, timestamp: int | None = None
    ) -> AttemptResult:
        """POST ``webhook`` once, signed now; never raises for receiver or network failures."""
        headers = {k: v for k, v in webhook.headers.items() if not reserved_header(k)}
        headers.update(sign_headers(webhook.msg_id, webhook.body, webhook.secrets,
                                    timestamp=timestamp).as_dict())  # fmt: skip
        headers["content-type"] = "application/json"
        if webhook.idempotency_key:
            headers["idempotency-key"] = webhook.idempotency_key
        started = time.perf_counter()
        try:
            async with self._client.stream(
                "POST", webhook.url, content=webhook.body, headers=headers
            ) as response:
                snippet = await _read_snippet(response)
        except httpx.TimeoutException as exc:
            return _failed(started, f"timed out: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            blocked = exc.__cause__ if isinstance(exc.__cause__, BlockedAddressError) else None
            return _failed(started, str(blocked) if blocked else f"{type(exc).__name__}: {exc}")
        return AttemptResult(
            classification=classify_status(
                response.status_code, response.headers.get("retry-after")
            ),
            duration_ms=(time.perf_counter() - started) * 1000,
            status_code=response.status_code,
            response_snippet=snippet,
        )


async def _read_snippet(response: httpx.Response) -> str:
    # never buffer a large body: read at most the snippet and drop the rest
    collected = b""
    async for chunk in response.aiter_raw():
        collected += chunk
        if len(collected) >= RESPONSE_SNIPPET_BYTES:
            break
    return collected[:RESPONSE_SNIPPET_BYTES].decode("utf-8", errors="replace")


def _failed(started: float, error: str) -> AttemptResult:
    return AttemptResult(
        classification=classify_error(error),
        duration_ms=(time.perf_counter() - started) * 1000,
        error=error,
    )
