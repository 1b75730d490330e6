"""A cap on every request body, enforced while it streams in.

The outermost middleware: it runs before rate limiting, authentication and
routing, for every method, content type and route. A declared Content-Length
over the cap is refused at once; otherwise the bytes of ``http.request``
messages are counted as the application receives them, and the first message
past the cap ends the request with 413, so at most one chunk past the cap is
ever held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_BODY", "BodyLimitMiddleware", "BodyTooLarge"]

DEFAULT_MAX_BODY = 2 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its cap. An HTTPException, so a
    route reading its body answers 413 through the usual handler; middleware that
    reads bodies lets it through to :class:`BodyLimitMiddleware`, which answers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"body: larger than {limit} bytes")
        self.limit = limit


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"body: larger than {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse bodies over ``max_body`` bytes (or the limit of the longest matching
    path prefix in ``limits``) with 413 and a JSON ``detail``."""

    def __init__(
        self,
        app: ASGIApp,
        max_body: int = DEFAULT_MAX_BODY,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        # longest prefix first, so a narrower route's own limit wins
        self.limits = sorted((limits or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for key, value in scope.get("headers", []):
            # the server already refused a malformed length; a huge one is refused here
            if key == b"content-length" and value.strip().isdigit() and int(value) > limit:
                await _refuse(send, limit)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if received > limit:  # a route answered the 413: do not read the rest
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                return  # a handler answered already; the rest of the body is dropped
            await _refuse(send, limit)
