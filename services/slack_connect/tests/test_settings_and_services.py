from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from mimeia import Address, discover_services
from mimeia.testing import free_port, run_server
from slack_connect.auth import INCOMING_SECRET_HEADER, org_incoming_secret
from slack_connect.devstack import ensure_dev_material
from slack_connect.settings import SERVICE_ROOT, Settings
from slack_connect.store import open_store, parse_store_url

ENV_FILE = """\
SLACK_CONNECT_PARAGON_PROJECT_ID=proj-from-op-env
SLACK_CONNECT_PARAGON_SIGNING_KEY_FILE={key}
SLACK_CONNECT_WORKFLOW_MESSAGES=wf-1
SLACK_CONNECT_INCOMING_SECRET=0123456789abcdef0123
SLACK_CONNECT_ADMIN_TOKEN=fedcba9876543210fedc
SLACK_CONNECT_SYNC_OVERLAP_SECONDS=15
"""


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SLACK_CONNECT_"):
            monkeypatch.delenv(key)


def test_settings_read_op_env_and_environment_wins(
    tmp_path: Path, keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_env(monkeypatch)
    env_file = tmp_path / "op.env"
    env_file.write_text(ENV_FILE.format(key=keys.private_file))
    monkeypatch.setenv("SLACK_CONNECT_SYNC_OVERLAP_SECONDS", "90")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.paragon_project_id == "proj-from-op-env"
    assert settings.sync_overlap_seconds == 90
    assert settings.signing_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert "0123456789abcdef0123" not in repr(settings)
    assert Settings.model_config["env_file"] == SERVICE_ROOT / "op.env"
    assert (SERVICE_ROOT / "pyproject.toml").is_file()


def test_settings_errors_name_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)
    with pytest.raises(ValidationError) as missing:
        Settings(_env_file=None)  # type: ignore[call-arg]
    fields = {error["loc"][0] for error in missing.value.errors()}
    assert {"paragon_project_id", "incoming_secret", "admin_token", "workflow_messages"} <= fields
    monkeypatch.setenv("SLACK_CONNECT_PARAGON_PROJECT_ID", "p")
    monkeypatch.setenv("SLACK_CONNECT_WORKFLOW_MESSAGES", "w")
    monkeypatch.setenv("SLACK_CONNECT_INCOMING_SECRET", "short")
    monkeypatch.setenv("SLACK_CONNECT_ADMIN_TOKEN", "0123456789abcdef0123")
    with pytest.raises(ValidationError) as short:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert any(e["loc"] == ("incoming_secret",) for e in short.value.errors())
    monkeypatch.setenv("SLACK_CONNECT_INCOMING_SECRET", "0123456789abcdef0123")
    with pytest.raises(ValidationError, match="exactly one of"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_services_registered_for_mimeia_up(tmp_path: Path) -> None:
    specs = {s.name: s for s in discover_services()}
    assert {"flowmesh", "mesh", "slack-connect", "paragon-emulator"} <= set(specs)
    assert "flowmesh" in specs["mesh"].after
    order = [s.name for s in discover_services()]
    assert order.index("flowmesh") < order.index("mesh") < order.index("slack-connect")
    addresses = {name: Address("127.0.0.1", 9000 + i) for i, name in enumerate(specs)}
    mesh_argv = specs["mesh"].argv(addresses, str(tmp_path))
    assert mesh_argv[-2:] == ["--flowmesh", str(addresses["flowmesh"])]
    emulator_argv = specs["paragon-emulator"].argv(addresses, str(tmp_path))
    assert "--public-key-file" in emulator_argv
    material = ensure_dev_material(tmp_path)
    assert material.private_key.stat().st_mode & 0o777 == 0o600
    assert ensure_dev_material(tmp_path) == material  # made once, then reused


def test_op_env_example_is_a_valid_settings_file(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)
    settings = Settings(_env_file=SERVICE_ROOT / "op.env.example")  # type: ignore[call-arg]
    assert settings.paragon_trigger_base == "https://zeus.useparagon.com"
    assert settings.workflow_messages == "66cc3817-38fa-4099-9025-2054dac0e89e"


def required_env(monkeypatch: pytest.MonkeyPatch, keys: Any) -> None:
    clear_env(monkeypatch)
    monkeypatch.setenv("SLACK_CONNECT_PARAGON_PROJECT_ID", "p")
    monkeypatch.setenv("SLACK_CONNECT_PARAGON_SIGNING_KEY_FILE", str(keys.private_file))
    monkeypatch.setenv("SLACK_CONNECT_WORKFLOW_MESSAGES", "w")
    monkeypatch.setenv("SLACK_CONNECT_INCOMING_SECRET", "0123456789abcdef0123")
    monkeypatch.setenv("SLACK_CONNECT_ADMIN_TOKEN", "fedcba9876543210fedc")


def test_store_url_wins_and_redis_url_still_works(
    keys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def from_env() -> Settings:
        return Settings(_env_file=None)  # type: ignore[call-arg]

    required_env(monkeypatch, keys)
    assert from_env().sync_store_url == "redis://127.0.0.1:6379/0"  # unchanged default
    monkeypatch.setenv("SLACK_CONNECT_REDIS_URL", "redis://cache:6380/3")
    assert from_env().sync_store_url == "redis://cache:6380/3"
    monkeypatch.setenv("SLACK_CONNECT_STORE_URL", "sqlite:////var/lib/slack/sync.db")
    assert from_env().sync_store_url == "sqlite:////var/lib/slack/sync.db"
    for field, bad in [("store_url", "mysql://db/x"), ("store_url", ""),
                       ("store_url", "sqlite://"), ("redis_url", "redis://")]:  # fmt: skip
        monkeypatch.setenv(f"SLACK_CONNECT_{field.upper()}", bad)
        with pytest.raises(ValidationError) as error:
            from_env()
        assert [e["loc"] for e in error.value.errors()] == [(field,)]
        monkeypatch.setenv(f"SLACK_CONNECT_{field.upper()}", "redis://127.0.0.1:6379/0")


def test_mimeia_up_runs_slack_connect_on_sqlite_without_redis(tmp_path: Path) -> None:
    spec = {s.name: s for s in discover_services()}["slack-connect"]
    addresses = {"slack-connect": Address("127.0.0.1", free_port())}
    argv = spec.argv(addresses, str(tmp_path))
    store_url = argv[argv.index("--store") + 1]
    location = parse_store_url(store_url)
    assert location.backend == "sqlite"
    assert Path(location.target) == tmp_path / "slack_connect" / "sync.db"

    # The real process from that argv, with the old Redis setting pointing nowhere:
    # it works, so it never needed Redis.
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    org, base = "acme", f"http://{addresses['slack-connect']}"
    with run_server(argv, env={"SLACK_CONNECT_REDIS_URL": dead_redis}):
        material = ensure_dev_material(tmp_path)
        incoming = {INCOMING_SECRET_HEADER: org_incoming_secret(material.incoming_secret, org)}
        channels = {"ok": True, "channels": [{"id": "C0567MFSJH2", "name": "general"},
                                             {"id": "C0ZZ", "name": "zz"}]}  # fmt: skip
        answer = httpx.post(f"{base}/v1/orgs/{org}/incoming/channels", json=channels,
                            headers=incoming, timeout=10)  # fmt: skip
        assert answer.status_code == 200, answer.text
        messages = {"channel": "C0567MFSJH2", "messages": [{"ts": "1700000000.000100"}]}
        answer = httpx.post(f"{base}/v1/orgs/{org}/incoming/messages", json=messages,
                            headers=incoming, timeout=10)  # fmt: skip
        assert answer.json()["dropped_not_allowlisted"] == 1  # not allowlisted yet
        admin = {"Authorization": f"Bearer {material.admin_token}"}
        listing = httpx.get(f"{base}/v1/orgs/{org}/channels", headers=admin, timeout=10)
        assert [c["id"] for c in listing.json()["channels"]] == ["C0567MFSJH2", "C0ZZ"]
        second = httpx.get(f"{base}/v1/orgs/{org}/channels", params={"limit": 1, "offset": 1},
                           headers=admin, timeout=10).json()  # fmt: skip
        assert [c["id"] for c in second["channels"]] == ["C0ZZ"] and second["total"] == 2
        too_many = httpx.get(f"{base}/v1/orgs/{org}/channels", params={"limit": 501},
                             headers=admin, timeout=10)  # fmt: skip
        assert too_many.status_code == 422 and "limit" in too_many.text

    async def read_back() -> tuple[dict[str, str], dict[str, int]]:
        store = open_store(store_url, redis_prefix="", overlap_seconds=60)
        try:
            return await store.get_raw(org, "channels"), await store.dropped(org)
        finally:
            await store.aclose()

    raw, dropped = asyncio.run(read_back())
    assert sorted(raw) == ["C0567MFSJH2", "C0ZZ"]
    assert dropped == {"C0567MFSJH2": 1}
