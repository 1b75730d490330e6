"""Secrets at rest: seal a secret before it reaches the database, open it after.

What is sealed: the Wompi events secret and every other integration secret
(:mod:`automation.integrations`), webhook endpoint secrets and the previous
secrets still signing after a rotation. Columns of type :class:`SealedText` /
:class:`SealedSecretList` (:mod:`automation.sealed`) seal on write and open on
read, so code above the database only ever sees plain values.

Keys come from ``SECRETS_KEY``: one key, or several separated by commas. The
first seals; every one of them opens (Fernet: AES-128-CBC with HMAC-SHA256, via
``cryptography``'s ``MultiFernet``). Each key is any string of 32 or more
characters (``python -c "import secrets; print(secrets.token_urlsafe(32))"``); the
Fernet key is its SHA-256. Outside production an unset ``SECRETS_KEY`` is generated
once into the state directory (``<STATE_DIR>/secrets_key``, mode 0600).

Rotating: put the new key first and keep the old one after it
(``SECRETS_KEY=new,old``), restart, run ``automation rotate-secrets`` (re-seals
every stored secret with the new key), then drop the old key.

Sealed values are ``sb1:<Fernet token>``. Neither keys nor opened values are
ever logged; :class:`SecretBox` hides its keys in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from automation.settings import Settings

PREFIX = "sb1:"
MIN_KEY_CHARS = 32


class SecretsKeyError(RuntimeError):
    """SECRETS_KEY is missing or malformed, or a stored secret does not open with it."""


def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def parse_keys(text: str) -> list[str]:
    """``SECRETS_KEY`` split into its keys (first seals), each checked."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise SecretsKeyError("SECRETS_KEY: no key given")
    for i, key in enumerate(keys):
        if len(key) < MIN_KEY_CHARS:
            raise SecretsKeyError(
                f"SECRETS_KEY: key {i + 1} is shorter than {MIN_KEY_CHARS} characters"
            )
    return keys


class SecretBox:
    """Seals and opens secrets with a list of keys; the first one seals."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretsKeyError("SECRETS_KEY: no key given")
        self._fernet = MultiFernet([_fernet(k) for k in keys])
        self.key_count = len(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(parse_keys(settings.effective_secrets_key))

    def __repr__(self) -> str:
        return f"SecretBox(keys=<{self.key_count} hidden>)"

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(PREFIX)

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        if not self.is_sealed(sealed):
            raise SecretsKeyError("a stored secret is not sealed (run `automation migrate`)")
        try:
            return self._fernet.decrypt(sealed[len(PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretsKeyError(
                "a stored secret does not open with any SECRETS_KEY key"
            ) from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the first key (for rotation)."""
        if not self.is_sealed(sealed):
            return self.seal(sealed)
        try:
            token = self._fernet.rotate(sealed[len(PREFIX) :].encode("ascii"))
        except (InvalidToken, ValueError):
            raise SecretsKeyError(
                "a stored secret does not open with any SECRETS_KEY key"
            ) from None
        return PREFIX + token.decode("ascii")


# The process's box. API and worker install theirs from their settings
# (:class:`automation.runtime.Runtime`); anything else gets the environment's.
_current: SecretBox | None = None


def install(box: SecretBox | None) -> None:
    global _current
    _current = box


def current() -> SecretBox:
    global _current
    if _current is None:
        from automation.settings import get_settings

        _current = SecretBox.from_settings(get_settings())
    return _current
