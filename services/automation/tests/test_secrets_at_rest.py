"""Secrets at rest (issue 16): Wompi, integration and webhook secrets are sealed with
SECRETS_KEY, rotatable, never returned after creation; the migration seals old rows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from automation import migrate, secretbox
from automation.secretbox import SecretBox, SecretsKeyError
from automation.settings import ConfigurationError, Settings

OLD_KEY = "old-key-0123456789abcdef0123456789abcdef"
NEW_KEY = "new-key-abcdef0123456789abcdef0123456789"


@pytest.fixture
def installed_box() -> Iterator[None]:
    """Seal with OLD_KEY in this test; the process's box is put back afterwards."""
    before = secretbox._current
    secretbox.install(SecretBox([OLD_KEY]))
    yield
    secretbox.install(before)


def test_keys_rotate_first_seals_all_open() -> None:
    old, both, new = SecretBox([OLD_KEY]), SecretBox([NEW_KEY, OLD_KEY]), SecretBox([NEW_KEY])
    sealed = old.seal("whsec_plain")
    assert sealed.startswith("sb1:") and "whsec_plain" not in sealed
    assert both.open(sealed) == "whsec_plain"
    with pytest.raises(SecretsKeyError, match="does not open"):
        new.open(sealed)
    assert new.open(both.reseal(sealed)) == "whsec_plain"
    assert OLD_KEY not in repr(both) and "2 hidden" in repr(both)
    with pytest.raises(SecretsKeyError, match="key 2 is shorter"):
        secretbox.parse_keys(f"{NEW_KEY}, short")


def test_production_needs_secrets_key(tmp_path: Path) -> None:
    values = {"database_url": "postgresql://x/y", "redis_url": "redis://x", "state_dir": tmp_path,
              "celery_broker_url": "redis://x", "internal_api_key": "k" * 20,
              "jwt_secret_key": "j" * 32, "webhook_secret_key": "w" * 32}  # fmt: skip
    with pytest.raises(ConfigurationError, match="SECRETS_KEY"):
        Settings(env="production", **values)  # type: ignore[arg-type]
    settings = Settings(env="production", secrets_key=NEW_KEY, **values)  # type: ignore[arg-type]
    assert NEW_KEY not in repr(settings)


def test_development_generates_its_key_into_the_state_dir(tmp_path: Path) -> None:
    settings = Settings(env="development", state_dir=tmp_path)
    box = SecretBox.from_settings(settings)
    key_file = tmp_path / "secrets_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = SecretBox.from_settings(Settings(env="development", state_dir=tmp_path))
    assert again.open(box.seal("x")) == "x"


async def test_webhook_secrets_are_sealed_and_returned_only_at_creation_and_rotation(
    client, auth, tenant, runtime
) -> None:
    created = await client.post("/api/v1/webhooks/endpoints", headers=auth,
                                json={"url": "https://hooks.example.com/in"})  # fmt: skip
    assert created.status_code == 201, created.text
    endpoint_id, first = created.json()["id"], created.json()["secret"]
    path = f"/api/v1/webhooks/endpoints/{endpoint_id}"
    shown = await client.get(path + "/secret", headers=auth)
    assert shown.status_code == 200 and first not in shown.text
    assert shown.json() == {"secret_set": True, "previous_secrets_expire_at": []}
    assert first not in (await client.get(path, headers=auth)).text

    rotated = await client.post(path + "/secret/rotate", headers=auth, json={})
    assert rotated.status_code == 200 and rotated.json()["secret"] != first
    async with runtime.database.session() as session:
        secret, previous = (
            await session.execute(
                text("SELECT secret, previous_secrets FROM webhook_endpoints WHERE id = :i"),
                {"i": endpoint_id},
            )
        ).one()
    assert secret.startswith("sb1:") and rotated.json()["secret"] not in secret
    assert first not in json.dumps(previous) and previous[0]["secret"].startswith("sb1:")


def _plain_rows(path: Path, tenant: str, endpoint_id: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO tenants (id, name, wompi_events_secret, created_at) "
            "VALUES (?, ?, ?, '2026-01-01 00:00:00')",
            (tenant, tenant, "test_events_plain_secret"),
        )
        db.execute(
            "INSERT INTO webhook_endpoints (id, tenant_id, name, description, url, event_types, "
            "secret, previous_secrets, headers, rate_limit, enabled, created_at, updated_at) "
            "VALUES (?, ?, '', '', 'https://x.example/h', '[]', 'whsec_plain_current', ?, '{}', "
            "NULL, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            (
                endpoint_id,
                tenant,
                json.dumps([{"secret": "whsec_plain_old", "expires_at": "2999-01-01T00:00:00"}]),
            ),
        )


def test_the_migration_seals_plaintext_rows_and_rotation_reseals(
    tmp_path: Path, installed_box: None
) -> None:
    path = tmp_path / "automation.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, "0100")
    tenant, endpoint_id = "t-migrated", str(uuid.uuid4())
    _plain_rows(path, tenant, endpoint_id)

    migrate.upgrade(url)
    with sqlite3.connect(path) as db:
        secret, previous = db.execute(
            "SELECT secret, previous_secrets FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
        ).fetchone()
        [(provider, sealed)] = db.execute(
            "SELECT provider, secrets FROM integration_credentials WHERE tenant_id = ?", (tenant,)
        ).fetchall()
        columns = [row[1] for row in db.execute("PRAGMA table_info(tenants)")]
    old = SecretBox([OLD_KEY])
    assert "wompi_events_secret" not in columns and provider == "wompi"
    assert json.loads(old.open(sealed)) == {"events_secret": "test_events_plain_secret"}
    assert old.open(secret) == "whsec_plain_current"
    assert old.open(json.loads(previous)[0]["secret"]) == "whsec_plain_old"

    rotated = subprocess.run(
        [sys.executable, "-m", "automation", "rotate-secrets"],
        env={**os.environ, "ENV": "test", "DATABASE_URL": url, "STATE_DIR": str(tmp_path),
             "SECRETS_KEY": f"{NEW_KEY},{OLD_KEY}"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    # credentials, endpoint secret, previous secrets; no key or secret in the output
    assert "re-sealed the secrets of 3 rows" in rotated.stdout
    assert NEW_KEY not in rotated.stdout + rotated.stderr
    assert "whsec_plain" not in rotated.stdout + rotated.stderr
    new = SecretBox([NEW_KEY])
    with sqlite3.connect(path) as db:
        secret, previous = db.execute(
            "SELECT secret, previous_secrets FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
        ).fetchone()
        (sealed,) = db.execute("SELECT secrets FROM integration_credentials").fetchone()
    assert new.open(secret) == "whsec_plain_current"
    assert new.open(json.loads(previous)[0]["secret"]) == "whsec_plain_old"
    assert json.loads(new.open(sealed))["events_secret"] == "test_events_plain_secret"

    # a service started with only the old key refuses in one line instead of failing later
    for command in (["serve", "--no-migrate", "--port", "1"], ["worker"]):
        refused = subprocess.run(
            [sys.executable, "-m", "automation", *command],
            env={**os.environ, "ENV": "test", "DATABASE_URL": url, "STATE_DIR": str(tmp_path),
                 "SECRETS_KEY": OLD_KEY},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().splitlines() == [
            "automation: SECRETS_KEY does not open the secrets stored in "
            "integration_credentials.secrets (keep the old key after the new one: "
            "SECRETS_KEY=new,old)"
        ]

    secretbox.install(SecretBox([NEW_KEY]))
    migrate.downgrade(url, "0100")  # and back: plain again, where they were
    with sqlite3.connect(path) as db:
        (plain,) = db.execute("SELECT wompi_events_secret FROM tenants").fetchone()
        (secret,) = db.execute("SELECT secret FROM webhook_endpoints").fetchone()
    assert (plain, secret) == ("test_events_plain_secret", "whsec_plain_current")
