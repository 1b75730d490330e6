"""The built-in test receiver: a webhook endpoint the sample points at.

It keeps the last requests in memory (bounded) so the First steps page can show
the delivered webhook. It answers 2xx, or the status in ``?status=`` (to try
failures and retries).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MAX_BODY = 256 * 1024
KEEP = 200
SHOWN_HEADERS = (
    "content-type",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "user-agent",
)


@dataclass
class Received:
    id: int
    at: float
    channel: str
    headers: dict[str, str]
    body: str
    answered: int


class Receiver:
    def __init__(self) -> None:
        self.items: deque[Received] = deque(maxlen=KEEP)
        self._ids = itertools.count(1)

    async def handle(self, request: Request) -> Response:
        channel = request.path_params["channel"][:64]
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"detail": "body: larger than 256 KiB"}, status_code=413)
        status = 200
        wanted = request.query_params.get("status", "")
        if wanted.isdigit() and 200 <= int(wanted) <= 599:
            status = int(wanted)
        headers = {k: v[:300] for k, v in request.headers.items() if k in SHOWN_HEADERS}
        self.items.append(
            Received(
                next(self._ids),
                time.time(),
                channel,
                headers,
                body.decode("utf-8", "replace"),
                status,
            )
        )
        return JSONResponse({"received": True}, status_code=status)

    def of(self, channel: str) -> list[Received]:
        return [r for r in reversed(self.items) if r.channel == channel]
