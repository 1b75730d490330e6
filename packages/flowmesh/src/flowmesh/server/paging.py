"""Opaque page tokens for the listings (streams, queues, KV stores, DLQ jobs).

A token is URL-safe base64 (unpadded) of a tagged position: ``r1:<path>`` (the
last resource path listed) or ``d1:<failed_at_ms>:<seq>:<job id>`` (the last
dead-lettered job listed). Clients pass tokens back untouched; anything that
does not decode is rejected naming ``page_token``. A token only says where to
resume: every page is filtered by the caller's permissions again.
"""

from __future__ import annotations

import base64
import binascii

from flowmesh.server.errors import InvalidArgument
from flowmesh.server.store.records import DLQCursor

FIELD = "page_token"
MAX_TOKEN_CHARS = 1024
_NOT_OURS = "is not a page token from this listing"


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str, tag: str) -> str:
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidArgument(FIELD, f"is over the limit of {MAX_TOKEN_CHARS} characters")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        text = raw.decode()
    except (binascii.Error, ValueError):
        raise InvalidArgument(FIELD, _NOT_OURS) from None
    if not text.startswith(tag):
        raise InvalidArgument(FIELD, _NOT_OURS)
    return text[len(tag) :]


def resource_token(path: str) -> str:
    return _encode("r1:" + path)


def resource_after(token: str) -> str:
    """The path a listing resumes after ("" for no token)."""
    if not token:
        return ""
    path = _decode(token, "r1:")
    if path.count("/") < 2:
        raise InvalidArgument(FIELD, _NOT_OURS)
    return path


def dlq_token(cursor: DLQCursor) -> str:
    return _encode(f"d1:{cursor.failed_at_ms}:{cursor.seq}:{cursor.job_id}")


def dlq_after(token: str) -> DLQCursor | None:
    if not token:
        return None
    failed, _, rest = _decode(token, "d1:").partition(":")
    seq, _, job_id = rest.partition(":")
    try:
        return DLQCursor(int(failed), int(seq), job_id)
    except ValueError:
        raise InvalidArgument(FIELD, _NOT_OURS) from None
