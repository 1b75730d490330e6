"""Development material for ``mimeia up``: a key pair and secrets, made once per state dir.

Production reads all of this from ``op.env``; locally the service and the
Paragon emulator need a matching RSA key pair and the same incoming secret.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "DEV_PROJECT_ID",
    "DEV_WORKFLOWS",
    "DevMaterial",
    "dev_store_url",
    "ensure_dev_material",
]

DEV_PROJECT_ID = "00000000-0000-4000-8000-00000000dev0"
DEV_WORKFLOWS = {
    "channels": "11111111-0000-4000-8000-000000000001",
    "users": "11111111-0000-4000-8000-000000000002",
    "messages": "11111111-0000-4000-8000-000000000003",
}


@dataclass(frozen=True)
class DevMaterial:
    private_key: Path
    public_key: Path
    incoming_secret_file: Path
    incoming_secret: str
    admin_token: str


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def dev_store_url(state_dir: Path) -> str:
    """The embedded SQLite sync store ``mimeia up`` uses: no Redis needed."""
    return f"sqlite:///{state_dir / 'slack_connect' / 'sync.db'}"


def ensure_dev_material(state_dir: Path) -> DevMaterial:
    folder = state_dir / "slack_connect"
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / "paragon_private.pem", folder / "paragon_public.pem"
    secret_file, admin_file = folder / "incoming_secret", folder / "admin_token"
    if not private.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(private, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))  # fmt: skip
        public_format = serialization.PublicFormat.SubjectPublicKeyInfo
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, public_format))
    for path in (secret_file, admin_file):
        if not path.exists():
            _write_private(path, secrets.token_hex(24).encode())
    return DevMaterial(private, public, secret_file, secret_file.read_text().strip(),
                       admin_file.read_text().strip())  # fmt: skip
