"""Checking one incoming batch, free of I/O: headers and body in, records out."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from common_mesh.protocol import (
    BATCH_COUNT_HEADER,
    BATCH_ID_HEADER,
    MAX_BATCH_BYTES,
    MAX_BATCH_MODELS,
)

__all__ = ["BatchRejected", "DecodedBatch", "decode_batch"]


class BatchRejected(Exception):
    """The batch is malformed; ``status`` is the HTTP answer, ``field`` what was wrong."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DecodedBatch:
    batch_id: str
    records: list[bytes]
    raw_bytes: int


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(name.lower()) or headers.get(name)


def _inflate(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(47)  # 32 + 15: gzip or zlib container
    try:
        raw = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BatchRejected(400, "body", f"body is not valid gzip: {exc}") from None
    if len(raw) > limit or inflater.unconsumed_tail:
        raise BatchRejected(413, "body", f"uncompressed body exceeds {limit} bytes")
    if not inflater.eof:
        raise BatchRejected(400, "body", "gzip body is truncated")
    return raw


def decode_batch(
    headers: Mapping[str, str], body: bytes, max_bytes: int = MAX_BATCH_BYTES
) -> DecodedBatch:
    """Validate a batch request; raise :class:`BatchRejected` naming the bad part."""
    batch_id = _header(headers, BATCH_ID_HEADER) or ""
    if len(batch_id) != 32 or any(c not in "0123456789abcdef" for c in batch_id):
        raise BatchRejected(400, BATCH_ID_HEADER, f"{BATCH_ID_HEADER} must be 32 lowercase hex")
    encoding = (_header(headers, "Content-Encoding") or "identity").strip().lower()
    if encoding == "gzip":
        raw = _inflate(body, max_bytes)
    elif encoding == "identity":
        if len(body) > max_bytes:
            raise BatchRejected(413, "body", f"body exceeds {max_bytes} bytes")
        raw = body
    else:
        raise BatchRejected(415, "Content-Encoding", f"unsupported Content-Encoding {encoding!r}")
    records = [line for line in raw.split(b"\n") if line.strip()]
    if not records:
        raise BatchRejected(400, "body", "batch holds no records")
    if len(records) > MAX_BATCH_MODELS:
        raise BatchRejected(400, "body", f"batch holds more than {MAX_BATCH_MODELS} records")
    for number, record in enumerate(records, start=1):
        try:
            value = json.loads(record)
        except ValueError as exc:
            raise BatchRejected(400, "body", f"line {number} is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise BatchRejected(400, "body", f"line {number} is not a JSON object")
    declared = _header(headers, BATCH_COUNT_HEADER)
    if declared is not None and declared.strip() != str(len(records)):
        raise BatchRejected(
            400, BATCH_COUNT_HEADER,
            f"{BATCH_COUNT_HEADER} says {declared!r} but the body holds {len(records)} records",
        )  # fmt: skip
    return DecodedBatch(batch_id, records, len(raw))
