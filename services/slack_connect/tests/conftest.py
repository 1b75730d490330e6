"""The whole stack as real processes: FlowMesh, the mesh receiver, the Paragon
emulator and the slack-connect service, wired to each other on free ports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mimeia.testing import free_port, run_server
from mimeia.testing.mesh import run_flowmesh, run_receiver

DATA_DIR = Path(__file__).resolve().parent / "slack" / "schematestdata"
PROJECT_ID = "2f1c7f3e-6f00-4c6b-9d0a-5a2b1c9e0f11"
AUDIENCE = "paragon-test"
WORKFLOWS = {
    "channels": "wf-channels-0001",
    "users": "wf-users-0002",
    "messages": "wf-messages-0003",
}
INCOMING_SECRET = "incoming-secret-for-tests-0123456789"
ADMIN_TOKEN = "admin-token-for-tests-0123456789"


@dataclass
class Keys:
    private_pem: str
    public_pem: str
    private_file: Path
    public_file: Path


@dataclass
class Stack:
    service_url: str
    emulator_url: str
    trigger_url: str
    flowmesh_endpoint: str
    mesh_url: str
    keys: Keys
    redis_prefix: str
    service_env: dict[str, str]

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def wait_for_runs(self, sub: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Block until ``count`` workflow runs of ``sub`` have finished."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [
                r
                for r in httpx.get(f"{self.emulator_url}/_emulator/runs").json()["runs"]
                if r["user"] == sub
            ]
            done = [r for r in runs if r["status"] != "running"]
            if len(done) >= count:
                return done
            if time.monotonic() > deadline:
                raise AssertionError(f"workflow runs of {sub} did not finish: {runs}")
            time.sleep(0.05)


def make_keys(folder: Path) -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (folder / "private.pem").write_text(private)
    (folder / "public.pem").write_text(public)
    return Keys(private, public, folder / "private.pem", folder / "public.pem")


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


StackRunner = Callable[..., AbstractContextManager[Stack]]


@pytest.fixture(scope="session")
def run_stack(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, redis_url: str, redis_prefix: str
) -> StackRunner:
    """``with run_stack(name, extra_env) as stack``: a stack of its own, the service
    started with ``extra_env`` added (for tests that need other settings)."""

    @contextmanager
    def run(name: str = "stack", extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
        state = tmp_path_factory.mktemp(name)
        secret_file = state / "incoming_secret"
        secret_file.write_text(INCOMING_SECRET)
        service_port, emulator_port = free_port(), free_port()
        service_url = f"http://127.0.0.1:{service_port}"
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        trigger_url = f"http://localhost:{emulator_port}"  # another host name, like zeus.*
        emulator_argv = [
            "python",
            "-m",
            "slack_connect.cli",
            "paragon-emulator",
            "--port",
            str(emulator_port),
            "--project-id",
            PROJECT_ID,
            "--public-key-file",
            str(keys.public_file),
            "--audience",
            AUDIENCE,
            "--data-dir",
            str(DATA_DIR),
            "--callback-url",
            service_url,
            "--incoming-secret-file",
            str(secret_file),
        ]
        for kind, workflow_id in WORKFLOWS.items():
            emulator_argv += ["--workflow", f"{kind}={workflow_id}"]
        prefix = f"{redis_prefix}:slack" if name == "stack" else f"{redis_prefix}:slack-{name}"
        with run_flowmesh(state) as flowmesh, run_receiver(flowmesh) as mesh_url:
            env = service_env(emulator_url, trigger_url, keys, mesh_url, redis_url, prefix)
            env.update(extra_env or {})
            service_argv = ["python", "-m", "slack_connect.cli", "serve", "--port",
                            str(service_port)]  # fmt: skip
            with run_server(emulator_argv), run_server(service_argv, env=env):
                yield Stack(service_url, emulator_url, trigger_url, flowmesh, mesh_url, keys,
                            prefix, env)  # fmt: skip

    return run


@pytest.fixture(scope="session")
def stack(run_stack: StackRunner) -> Iterator[Stack]:
    with run_stack() as running:
        yield running


def service_env(emulator_url: str, trigger_url: str, keys: Keys, mesh_url: str, redis_url: str,
                prefix: str) -> dict[str, str]:  # fmt: skip
    return {
        "SLACK_CONNECT_PARAGON_PROJECT_ID": PROJECT_ID,
        "SLACK_CONNECT_PARAGON_API_BASE": emulator_url,
        "SLACK_CONNECT_PARAGON_TRIGGER_BASE": trigger_url,
        "SLACK_CONNECT_PARAGON_SIGNING_KEY_FILE": str(keys.private_file),
        "SLACK_CONNECT_PARAGON_AUDIENCE": AUDIENCE,
        "SLACK_CONNECT_WORKFLOW_CHANNELS": WORKFLOWS["channels"],
        "SLACK_CONNECT_WORKFLOW_USERS": WORKFLOWS["users"],
        "SLACK_CONNECT_WORKFLOW_MESSAGES": WORKFLOWS["messages"],
        "SLACK_CONNECT_INCOMING_SECRET": INCOMING_SECRET,
        "SLACK_CONNECT_ADMIN_TOKEN": ADMIN_TOKEN,
        "SLACK_CONNECT_MESH_URL": mesh_url,
        "SLACK_CONNECT_REDIS_URL": redis_url,
        "SLACK_CONNECT_REDIS_PREFIX": prefix,
        "SLACK_CONNECT_SYNC_OVERLAP_SECONDS": "30",
        "SLACK_CONNECT_MAX_BODY_BYTES": "1000000",
    }
