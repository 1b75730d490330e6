from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mimeia import Address, discover_services
from slack_connect.devstack import ensure_dev_material
from slack_connect.settings import SERVICE_ROOT, Settings

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
