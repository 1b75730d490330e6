"""Who is using the console and with which credentials.

A session holds the user's own automation credentials (a JWT, or the internal
key plus a tenant) and, optionally, their FlowMesh token and Slack admin token,
in an encrypted, HttpOnly cookie; every call the console makes for the user
carries them, so the services decide what is allowed. Under ``mimeia up`` a
visitor from loopback is signed in with the internal key read from the
automation service's state directory and uses the console's own FlowMesh and
Slack tokens (development only).

FlowMesh and slack-connect, for a signed-in user (:func:`flowmesh_access`,
:func:`slack_access`, one rule): their own token for everything when they gave
one; otherwise the console's token for reads only (``CONSOLE_FLOWMESH_SHARED_READS``,
``CONSOLE_SLACK_SHARED_READS``) and every action refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken

from mimeia_console.clients.access import Access
from mimeia_console.settings import ConsoleSettings

COOKIE = "console_session"
FLASH_COOKIE = "console_flash"
FLASH_MAX_AGE = 120  # seconds: shown on the page the action redirects to, or never
FLASH_MAX_BYTES = 2400  # before encryption: the cookie stays well under 4 KB
TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
# sent as a gRPC metadata value or an HTTP bearer token: printable ASCII without spaces
SERVICE_TOKEN_RE = re.compile(r"^[\x21-\x7e]{1,1024}$")


class LoginError(ValueError):
    """A login form that cannot become a session; the message names the field."""


@dataclass(frozen=True)
class Credentials:
    kind: Literal["jwt", "key"]
    secret: str = field(repr=False)
    tenant: str
    subject: str
    loopback: bool = False  # signed in automatically from loopback
    # the user's own FlowMesh token (``flowmesh token create``), if they gave one
    flowmesh_token: str | None = field(default=None, repr=False)
    # the user's own slack-connect admin token, if they gave one
    slack_token: str | None = field(default=None, repr=False)

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
        return replace(self, tenant=check_tenant(tenant))


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


def check_service_token(value: str, name: str, hint: str) -> str | None:
    """An optional service token field (``name``): empty (none given) or one printable word."""
    value = value.strip()
    if not value:
        return None
    if not SERVICE_TOKEN_RE.match(value):
        raise LoginError(f"{name}: one word of printable characters, at most 1024 ({hint})")
    return value


def check_flowmesh_token(value: str) -> str | None:
    return check_service_token(value, "flowmesh_token", "as `flowmesh token create` prints it")


def check_slack_token(value: str) -> str | None:
    return check_service_token(value, "slack_token", "slack-connect's SLACK_CONNECT_ADMIN_TOKEN")


def from_login_form(
    token: str, api_key: str, tenant: str, flowmesh_token: str = "", slack_token: str = ""
) -> Credentials:
    token, api_key, tenant = token.strip(), api_key.strip(), tenant.strip()
    fm_token, sl_token = check_flowmesh_token(flowmesh_token), check_slack_token(slack_token)
    if token and api_key:
        raise LoginError("token: give a token or an internal key, not both")
    if token:
        claims = _jwt_claims(token)
        claimed = claims.get("tenant")
        if not isinstance(claimed, str):
            raise LoginError("token: has no 'tenant' claim")
        return Credentials("jwt", token, check_tenant(claimed), str(claims.get("sub", "")),
                           flowmesh_token=fm_token, slack_token=sl_token)  # fmt: skip
    if api_key:
        if not tenant:
            raise LoginError("tenant: required with an internal key")
        return Credentials("key", api_key, check_tenant(tenant), "internal key",
                           flowmesh_token=fm_token, slack_token=sl_token)  # fmt: skip
    raise LoginError("token: give a token, or an internal key and a tenant")


def _access(own: str | None, configured: str | None, creds: Credentials | None,
            settings: ConsoleSettings, shared_reads: bool) -> Access:  # fmt: skip
    """The one rule for a service with its own tokens (FlowMesh, slack-connect):

    * the user's own token, when they signed in with one: reads and actions;
    * a loopback visitor under ``mimeia up`` (development only): the console's token;
    * a user without one: the console's token for reads when ``shared_reads``
      allows, never for actions;
    * nobody signed in: nothing.
    """
    if creds is None:
        return Access(None, may_read=False, may_act=False)
    if own:
        return Access(own, may_read=True, may_act=True)
    if creds.loopback and settings.env != "production":
        return Access(configured, may_read=True, may_act=True)
    if shared_reads:
        return Access(configured, may_read=True, may_act=False)
    return Access(None, may_read=False, may_act=False)


def flowmesh_access(settings: ConsoleSettings, creds: Credentials | None) -> Access:
    """Which FlowMesh token the calls made for ``creds`` carry (None: an open
    server), and what they may do (``CONSOLE_FLOWMESH_SHARED_READS``)."""
    configured = settings.flowmesh_token.get_secret_value() if settings.flowmesh_token else None
    own = creds.flowmesh_token if creds else None
    return _access(own, configured, creds, settings, settings.flowmesh_shared_reads)


def slack_access(settings: ConsoleSettings, creds: Credentials | None) -> Access:
    """Which slack-connect admin token the calls made for ``creds`` carry, and what
    they may do (``CONSOLE_SLACK_SHARED_READS``). slack-connect's admin API takes no
    call without a token: an access allowed to use the console's token while the
    console has none (token None) can call nothing (the Slack page says so)."""
    token = settings.slack_admin_token
    configured = token.get_secret_value() if token else None
    own = creds.slack_token if creds else None
    return _access(own, configured, creds, settings, settings.slack_shared_reads)


class SessionCodec:
    """Credentials <-> the cookie value (Fernet: encrypted and authenticated)."""

    def __init__(self, secret: str, max_age_seconds: float) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)
        self._csrf_key = hashlib.sha256(b"csrf:" + secret.encode()).digest()
        flash_key = hashlib.sha256(b"flash:" + secret.encode()).digest()
        self._flash = Fernet(base64.urlsafe_b64encode(flash_key))
        self.max_age = int(max_age_seconds)

    def dump(self, creds: Credentials) -> str:
        raw = json.dumps(
            {
                "k": creds.kind,
                "s": creds.secret,
                "t": creds.tenant,
                "u": creds.subject,
                "l": creds.loopback,
                "f": creds.flowmesh_token,
                "sl": creds.slack_token,
            }
        )
        return self._fernet.encrypt(raw.encode()).decode()

    def load(self, value: str) -> Credentials | None:
        try:
            raw = self._fernet.decrypt(value.encode(), ttl=self.max_age)
            data = json.loads(raw)
            fm_token, sl_token = data.get("f"), data.get("sl")
            return Credentials(
                data["k"], data["s"], data["t"], data["u"], bool(data["l"]),
                fm_token if isinstance(fm_token, str) and fm_token else None,
                sl_token if isinstance(sl_token, str) and sl_token else None,
            )  # fmt: skip
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None

    def dump_flash(self, ok: str, error: str) -> str:
        """An action's outcome as a cookie value only this console can have written
        (encrypted and authenticated with its own key, short-lived)."""
        ok, error = ok[:500], error[:1000]
        while True:
            raw = json.dumps({"o": ok, "e": error}, ensure_ascii=False).encode()
            if len(raw) <= FLASH_MAX_BYTES:
                return self._flash.encrypt(raw).decode()
            ok, error = ok[: len(ok) * 3 // 4], error[: len(error) * 3 // 4]

    def load_flash(self, value: str) -> tuple[str, str] | None:
        """(ok, error) from :meth:`dump_flash`'s value; None when forged, altered or old."""
        try:
            data = json.loads(self._flash.decrypt(value.encode(), ttl=FLASH_MAX_AGE))
            ok, error = data["o"], data["e"]
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
        if not isinstance(ok, str) or not isinstance(error, str):
            return None
        return ok, error

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
