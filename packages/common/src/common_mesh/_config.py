"""Settings shared by the sync and async engines."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from common_mesh.batching import Batcher, RetryPolicy
from common_mesh.protocol import batch_path, validate_name


@dataclass(frozen=True)
class EngineConfig:
    base_url: str
    token: str | None = None
    timeout: float = 30.0
    max_models: int = 5000
    max_bytes: int = 1024 * 1024
    compression_level: int = 6
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        url = httpx.URL(self.base_url)
        if url.scheme not in {"http", "https"} or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        # Fail at construction, not at the first batch.
        self.new_batcher()

    def new_batcher(self) -> Batcher:
        return Batcher(self.max_models, self.max_bytes, self.compression_level)

    def client_options(self) -> dict[str, object]:
        headers = {"User-Agent": "common-mesh/0.1"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return {
            "base_url": self.base_url.rstrip("/"),
            "timeout": httpx.Timeout(self.timeout),
            "headers": headers,
        }


@dataclass(frozen=True)
class StreamName:
    org: str
    module: str
    model: str

    @classmethod
    def checked(cls, org: str, module: str, model: str) -> StreamName:
        return cls(validate_name("org", org), validate_name("module", module),
                   validate_name("model", model))  # fmt: skip


class EngineBase:
    """What the sync and async engines share: settings and naming."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        max_models: int = 5000,
        max_bytes: int = 1024 * 1024,
        compression_level: int = 6,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = EngineConfig(base_url, token, timeout, max_models, max_bytes,
                                   compression_level, retry or RetryPolicy())  # fmt: skip
        # Guards the lazily opened connection pool of the thread-shared sync engine.
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.config.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class SessionBase:
    """What the sync and async sessions share: the stream they write to."""

    def __init__(self, stream: StreamName) -> None:
        self.stream = stream
        self.path = batch_path(stream.org, stream.module, stream.model)

    @property
    def org(self) -> str:
        return self.stream.org

    @property
    def module(self) -> str:
        return self.stream.module

    @property
    def model(self) -> str:
        return self.stream.model

    def __repr__(self) -> str:
        s = self.stream
        return f"{type(self).__name__}(org={s.org!r}, module={s.module!r}, model={s.model!r})"
