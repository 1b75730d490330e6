"""Where accepted models go."""

from __future__ import annotations

from typing import Protocol

__all__ = ["StreamSink"]


class StreamSink(Protocol):
    """Appends one batch's records (JSON objects, one per item) to a stream.

    It must append all of them or raise: the receiver then answers 503 and
    the client retries the whole batch under the same id.
    """

    async def append(
        self, org: str, module: str, model: str, records: list[bytes], batch_id: str
    ) -> None: ...

    async def aclose(self) -> None: ...
