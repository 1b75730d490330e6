"""Who is using the console and with which credentials.

A session holds the user's own automation credentials (a JWT, or the internal
key plus a tenant) in an encrypted, HttpOnly cookie; every call the console
makes for the user carries them, so the services decide what is allowed.
Under ``mimeia up`` a visitor from loopback is signed in with the internal key
read from the automation service's state directory (development only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken

from mimeia_console.settings import ConsoleSettings

COOKIE = "console_session"
TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class LoginError(ValueError):
    """A login form that cannot become a session; the message names the field."""


@dataclass(frozen=True)
class Credentials:
    kind: Literal["jwt", "key"]
    secret: str
    tenant: str
    subject: str
    loopback: bool = False  # signed in automatically from loopback

    def automation_headers(self) -> dict[str, str]:
        if self.kind == "jwt":
            return {"Authorization": f"Bearer {self.secret}"}
        return {"X-Internal-API-Key": self.secret, "X-Tenant-ID": self.tenant}

    @property
    def can_switch_tenant(self) -> bool:
        return self.kind == "key"

    def with_tenant(self, tenant: str) -> Credentials:
        if not self.can_switch_tenant:
            raise LoginError("tenant: a token is for one tenant; sign in with another token")
        return Credentials(
            self.kind, self.secret, check_tenant(tenant), self.subject, self.loopback
        )


def check_tenant(tenant: str) -> str:
    if not TENANT_RE.match(tenant):
        raise LoginError("tenant: 1-64 letters, digits, '.', '_' or '-'")
    return tenant


def _jwt_claims(token: str) -> dict[str, object]:
    """The token's claims, unverified: only to show who and which tenant (the API verifies)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise LoginError("token: not a JWT (three dot-separated parts)")
    body = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(body))
    except ValueError:
        raise LoginError("token: the claims part is not base64 JSON") from None
    if not isinstance(claims, dict):
        raise LoginError("token: the claims are not an object")
    return claims


def from_login_form(token: str, api_key: str, tenant: str) -> Credentials:
    token, api_key, tenant = token.strip(), api_key.strip(), tenant.strip()
    if token and api_key:
        raise LoginError("token: give a token or an internal key, not both")
    if token:
        claims = _jwt_claims(token)
        claimed = claims.get("tenant")
        if not isinstance(claimed, str):
            raise LoginError("token: has no 'tenant' claim")
        return Credentials("jwt", token, check_tenant(claimed), str(claims.get("sub", "")))
    if api_key:
        if not tenant:
            raise LoginError("tenant: required with an internal key")
        return Credentials("key", api_key, check_tenant(tenant), "internal key")
    raise LoginError("token: give a token, or an internal key and a tenant")


class SessionCodec:
    """Credentials <-> the cookie value (Fernet: encrypted and authenticated)."""

    def __init__(self, secret: str, max_age_seconds: float) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)
        self._csrf_key = hashlib.sha256(b"csrf:" + secret.encode()).digest()
        self.max_age = int(max_age_seconds)

    def dump(self, creds: Credentials) -> str:
        raw = json.dumps(
            {
                "k": creds.kind,
                "s": creds.secret,
                "t": creds.tenant,
                "u": creds.subject,
                "l": creds.loopback,
            }
        )
        return self._fernet.encrypt(raw.encode()).decode()

    def load(self, value: str) -> Credentials | None:
        try:
            raw = self._fernet.decrypt(value.encode(), ttl=self.max_age)
            data = json.loads(raw)
            return Credentials(data["k"], data["s"], data["t"], data["u"], bool(data["l"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None

    def csrf_token(self, creds: Credentials, day: int | None = None) -> str:
        """A per-session form token (bound to the credentials, the tenant and the day)."""
        day = int(time.time()) // 86400 if day is None else day
        message = f"{creds.kind}:{creds.secret}:{creds.tenant}:{day}"
        return hmac.new(self._csrf_key, message.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, creds: Credentials, presented: str) -> bool:
        today = int(time.time()) // 86400
        # a page loaded just before midnight still posts
        return any(
            hmac.compare_digest(self.csrf_token(creds, day).encode(), presented.encode())
            for day in (today, today - 1)
        )


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_credentials(settings: ConsoleSettings, tenant: str | None) -> Credentials | None:
    """The pre-authorized session for a loopback visitor under `mimeia up`, if configured."""
    path = settings.loopback_key_file
    if path is None or settings.env == "production":
        return None
    try:
        key = path.read_text().strip()
    except OSError:
        return None
    if not key:
        return None
    chosen = tenant if tenant and TENANT_RE.match(tenant) else settings.default_tenant
    return Credentials("key", key, chosen, "loopback (mimeia up)", loopback=True)
