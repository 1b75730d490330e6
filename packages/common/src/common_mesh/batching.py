"""Sans-I/O core of the mesh client: models in, compressed batches out.

:class:`Batcher` turns models into NDJSON lines and cuts a batch when the next
line would pass ``max_models`` or ``max_bytes`` (uncompressed). It holds at
most one batch of lines, so memory stays flat however many models stream
through. :class:`Delivery` decides, for one batch, what each answer means:
done, retry after a delay, or give up. The sync and async sessions only move
bytes between these and the network.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from common_core.retry import Retrying, RetryPolicy
from common_mesh.errors import MeshDeliveryError, MeshModelError
from common_mesh.protocol import (
    BATCH_COUNT_HEADER,
    BATCH_ID_HEADER,
    CONTENT_TYPE,
    MAX_BATCH_BYTES,
    MAX_BATCH_MODELS,
)

__all__ = ["Batch", "Batcher", "Delivery", "RetryPolicy", "SendSummary", "encode_model"]


def encode_model(model: object, index: int) -> bytes:
    """The JSON line of one model (a pydantic model or a mapping)."""
    if isinstance(model, BaseModel):
        return model.__pydantic_serializer__.to_json(model)
    if isinstance(model, Mapping):
        try:
            return json.dumps(model, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise MeshModelError(index, f"mapping is not JSON serializable: {exc}") from exc
    raise MeshModelError(
        index, f"expected a pydantic model or a mapping, got {type(model).__name__}"
    )


@dataclass(frozen=True)
class Batch:
    batch_id: str
    count: int
    raw_bytes: int
    body: bytes
    compressed: bool

    def headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": CONTENT_TYPE,
            BATCH_ID_HEADER: self.batch_id,
            BATCH_COUNT_HEADER: str(self.count),
        }
        if self.compressed:
            headers["Content-Encoding"] = "gzip"
        return headers


class Batcher:
    """Collects model lines and cuts compressed batches bounded by count and bytes."""

    def __init__(
        self,
        max_models: int = 5000,
        max_bytes: int = 1024 * 1024,
        compression_level: int = 6,
    ) -> None:
        if not 1 <= max_models <= MAX_BATCH_MODELS:
            raise ValueError(f"max_models must be between 1 and {MAX_BATCH_MODELS}")
        if not 1 <= max_bytes <= MAX_BATCH_BYTES:
            raise ValueError(f"max_bytes must be between 1 and {MAX_BATCH_BYTES}")
        if not 0 <= compression_level <= 9:
            raise ValueError("compression_level must be 0 (off) to 9")
        self.max_models = max_models
        self.max_bytes = max_bytes
        self.compression_level = compression_level
        self._lines: list[bytes] = []
        self._size = 0
        self._seen = 0

    def add(self, model: object) -> Batch | None:
        """Take one model; return the batch it closed, if any."""
        index = self._seen
        self._seen += 1
        line = encode_model(model, index) + b"\n"
        if len(line) > self.max_bytes:
            raise MeshModelError(
                index, f"{len(line)} bytes of JSON is more than max_bytes={self.max_bytes}"
            )
        closed = None
        if self._size + len(line) > self.max_bytes:
            closed = self.flush()
        self._lines.append(line)
        self._size += len(line)
        if len(self._lines) >= self.max_models:
            closed = self.flush()
        return closed

    def flush(self) -> Batch | None:
        """Cut whatever is pending into a batch (``None`` when nothing is)."""
        if not self._lines:
            return None
        raw = b"".join(self._lines)
        count = len(self._lines)
        self._lines = []
        self._size = 0
        if self.compression_level:
            # wbits=31: a gzip container, what "Content-Encoding: gzip" means.
            packer = zlib.compressobj(self.compression_level, zlib.DEFLATED, 31)
            body = packer.compress(raw) + packer.flush()
        else:
            body = raw
        return Batch(uuid.uuid4().hex, count, len(raw), body, bool(self.compression_level))


@dataclass(frozen=True)
class Step:
    """What the transport does next: stop (``done``) or wait ``delay`` and resend."""

    done: bool
    delay: float = 0.0
    duplicate: bool = False


@dataclass
class Delivery:
    """The retry state of one batch; it never touches the network itself.

    A batch POST is idempotent by its ``X-Mesh-Batch-Id`` (the receiver stores
    an id once and answers ``duplicate`` to a resend), so the shared
    :class:`~common_core.retry.RetryPolicy` may resend it after a read timeout.
    """

    batch: Batch
    policy: RetryPolicy
    attempts: int = 0
    retrying: Retrying = field(init=False)

    def __post_init__(self) -> None:
        self.retrying = self.policy.start("POST", idempotent=True)

    def start_attempt(self) -> None:
        self.attempts += 1

    def on_response(self, status: int, headers: Mapping[str, str], body: bytes) -> Step:
        if 200 <= status < 300:
            return Step(done=True, duplicate=_is_duplicate(body))
        detail = _error_detail(body)
        decision = self.retrying.after_response(status, headers)
        if decision.retry:
            return Step(done=False, delay=decision.delay)
        raise MeshDeliveryError(
            f"mesh refused batch {self.batch.batch_id} with HTTP {status}: {detail}",
            batch_id=self.batch.batch_id,
            status=status,
            detail=detail,
            attempts=self.attempts,
        )

    def on_transport_error(self, error: Exception, *, maybe_sent: bool = True) -> Step:
        decision = self.retrying.after_transport_error(maybe_sent=maybe_sent)
        if decision.retry:
            return Step(done=False, delay=decision.delay)
        raise MeshDeliveryError(
            f"mesh unreachable for batch {self.batch.batch_id} after {self.attempts} attempts: "
            f"{error!r}",
            batch_id=self.batch.batch_id,
            status=None,
            detail=repr(error),
            attempts=self.attempts,
        ) from error


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _is_duplicate(body: bytes) -> bool:
    answer = _decode(body)
    return bool(isinstance(answer, dict) and answer.get("duplicate"))


def _error_detail(body: bytes) -> str:
    answer = _decode(body)
    if isinstance(answer, dict) and "error" in answer:
        return str(answer["error"])
    return body[:200].decode("utf-8", "replace")


@dataclass
class SendSummary:
    """What one ``send_all_models`` call did."""

    models: int = 0
    batches: int = 0
    raw_bytes: int = 0
    compressed_bytes: int = 0
    duplicate_batches: int = 0
    retries: int = 0
    seconds: float = 0.0
    batch_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def compression_ratio(self) -> float:
        """Uncompressed bytes per byte sent (``1.0`` when nothing was sent)."""
        return self.raw_bytes / self.compressed_bytes if self.compressed_bytes else 1.0

    def record(self, delivery: Delivery, step: Step) -> None:
        self.models += delivery.batch.count
        self.batches += 1
        self.raw_bytes += delivery.batch.raw_bytes
        self.compressed_bytes += len(delivery.batch.body)
        self.retries += delivery.attempts - 1
        self.duplicate_batches += int(step.duplicate)
        # Ids of the last batches only: enough to audit, bounded for huge streams.
        self.batch_ids.append(delivery.batch.batch_id)
        if len(self.batch_ids) > 1000:
            del self.batch_ids[:500]
