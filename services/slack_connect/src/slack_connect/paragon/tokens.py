"""Paragon User Tokens: RS256 JWTs signed with our private key, cached per subject."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = ["UserTokenSigner"]


@dataclass(frozen=True)
class _Cached:
    token: str
    expires_at: float


class UserTokenSigner:
    """Signs ``{"sub", "iat", "exp": iat + lifetime[, "aud"]}`` with RS256.

    A token is reused until ``refresh_margin`` seconds before it expires, then
    signed anew, so a request never leaves with a token about to lapse.
    """

    def __init__(
        self,
        private_key_pem: str | bytes,
        *,
        audience: str | None = None,
        lifetime: int = 3600,
        refresh_margin: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"paragon signing key is not a PEM private key: {exc}") from None
        if not isinstance(key, RSAPrivateKey):
            raise ValueError("paragon signing key must be an RSA private key (RS256)")
        if not 0 <= refresh_margin < lifetime:
            raise ValueError("refresh_margin must be between 0 and lifetime")
        self._key = key
        self.audience = audience
        self.lifetime = lifetime
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def token_for(self, subject: str) -> str:
        if not subject or not isinstance(subject, str):
            raise ValueError("token subject must be a non-empty string")
        now = self._clock()
        with self._lock:
            cached = self._cache.get(subject)
            if cached is not None and cached.expires_at - self.refresh_margin > now:
                return cached.token
            issued = int(now)
            claims: dict[str, object] = {"sub": subject, "iat": issued,
                                         "exp": issued + self.lifetime}  # fmt: skip
            if self.audience:
                claims["aud"] = self.audience
            token = jwt.encode(claims, self._key, algorithm="RS256")
            self._cache[subject] = _Cached(token, issued + self.lifetime)
            return token
