"""Every wheel installs alone, lean, and adds nothing to a user's test runs.

The wheels are built with ``uv build``; each goes into a fresh venv of its own with
exactly what it asks for, taken from uv.lock (``uv export --format pylock.toml``)
and installed offline from uv's cache (``uv sync`` filled it). Then, per wheel:
``uv pip check`` (it asked for nothing that is missing), what it pulled in is within
its allow-list, its public API imports, and ``pytest --fixtures`` in an empty folder
lists no fixture of ours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
UV = os.environ.get("UV") or shutil.which("uv")
OUR_FIXTURES = ("redis_url", "redis_prefix", "postgres_url", "unused_port")
MEMBERS = {
    "mimeia": "packages/mimeia",
    "mimeia-telemetry": "packages/telemetry",
    "mimeia-flowmesh": "packages/flowmesh",
    "mimeia-common": "packages/common",
    "mimeiapify": "packages/mimeiapify",
    "automation-service": "services/automation",
    "slack-connect": "services/slack_connect",
    "mimeia-console": "services/console",
}
TOP_PACKAGES = {
    "mimeia": ["mimeia"],
    "mimeia-telemetry": ["mimeia_telemetry"],
    "mimeia-flowmesh": ["flowmesh"],
    "mimeia-common": ["common_core", "common_mesh"],
    "mimeiapify": ["mimeiapify"],
    "automation-service": ["automation"],
    "slack-connect": ["slack_connect"],
    "mimeia-console": ["mimeia_console"],
}

PYDANTIC = {
    "pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection",
}  # fmt: skip
HTTPX = {"httpx", "httpcore", "h11", "anyio", "idna", "certifi", "sniffio"}
GRPC = {"grpcio", "protobuf"}
STARLETTE = {"starlette", "anyio", "idna", "sniffio", "typing-extensions"}
UVICORN = {"uvicorn", "click", "h11"}


@dataclass(frozen=True)
class Case:
    dist: str
    extra: str | None
    allowed: frozenset[str]
    check: str  # python run in the venv: imports the public API

    @property
    def label(self) -> str:
        return f"{self.dist}[{self.extra}]" if self.extra else self.dist


def _case(dist: str, extra: str | None, allowed: set[str], check: str) -> Case:
    return Case(dist, extra, frozenset(allowed), check)


# the log formatter and tracing helpers every library imports: no dependencies of its own
TELEMETRY = {"mimeia-telemetry"}
# its otel extra: the OpenTelemetry SDK and the OTLP/HTTP exporter
OTEL = {
    "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-semantic-conventions",
    "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-common",
    "opentelemetry-exporter-otlp-common", "opentelemetry-exporter-http-transport",
    "opentelemetry-proto", "googleapis-common-protos", "protobuf", "typing-extensions",
    "requests", "charset-normalizer", "urllib3", "certifi", "idna",
}  # fmt: skip
FLOWMESH_SDK = GRPC | PYDANTIC | TELEMETRY
# starlette, uvicorn and websockets: the server's HTTP API and /ws (never the SDK's)
FLOWMESH_SERVER = FLOWMESH_SDK | STARLETTE | UVICORN | {
    "redis", "hiredis", "prometheus-client", "jsonschema-rs", "orjson", "async-timeout",
    "websockets",
}  # fmt: skip
COMMON = PYDANTIC | HTTPX | TELEMETRY | {"markdown-it-py", "mdurl"}
RECEIVER = STARLETTE | UVICORN | FLOWMESH_SDK | {"mimeia-flowmesh"}
CASES = [
    _case("mimeia-telemetry", None, set(),
          "from mimeia_telemetry import *; import mimeia_telemetry.asgi, mimeia_telemetry.celery; "
          "from mimeia_telemetry import tracing; assert not tracing.configure_tracing(); "
          "import sys; assert not [m for m in sys.modules if m.startswith('opentelemetry')]"),
    _case("mimeia-telemetry", "otel", OTEL,
          "import os; os.environ['OTEL_TRACES_EXPORTER'] = 'otlp'; "
          "from mimeia_telemetry import tracing; assert tracing.configure_tracing('check'); "
          "import opentelemetry.exporter.otlp.proto.http.trace_exporter"),
    _case("mimeia-flowmesh", None, FLOWMESH_SDK,
          "from flowmesh import *; import flowmesh, flowmesh.server.mimeia_service; "
          "import sys; assert 'redis' not in sys.modules and 'mimeia' not in sys.modules; "
          # `flowmesh serve` without the extra names the extra to install
          "import subprocess; r = subprocess.run([sys.executable, '-m', 'flowmesh', 'serve', "
          "'--port', '1'], capture_output=True, text=True, timeout=60); "
          "assert r.returncode == 2 and \"'mimeia-flowmesh[server]'\" in r.stderr, r"),
    _case("mimeia-flowmesh", "server", FLOWMESH_SERVER,
          "import flowmesh.server; from flowmesh.server import ServerSettings, serve; "
          "import flowmesh.server.store.redis, flowmesh.server.store.sqlite, "
          "flowmesh.server.http_api"),
    _case("mimeia-common", None, COMMON,
          "from common_mesh import *; import common_mesh.mimeia_service; "
          "import common_core.lists, common_core.log_manager, common_core.markdown, "
          "common_core.retry, common_core.serialization, common_core.serving, "
          "common_core.strings, common_core.temporal, common_core.timing, common_core.validators; "
          "import sys; assert 'flowmesh' not in sys.modules and 'mimeia' not in sys.modules"),
    _case("mimeia-common", "receiver", COMMON | RECEIVER,
          "from common_mesh.receiver import create_app; "
          "from common_mesh.receiver.flowmesh_sink import FlowMeshSink"),
    # mimeia-common: common_core.retry, the platform's one retry policy
    _case("mimeiapify", None,
          PYDANTIC | STARLETTE | TELEMETRY | COMMON | {"mimeia-common"} | {
              "pydantic-settings", "python-dotenv", "aiohttp", "aiohappyeyeballs", "aiosignal",
              "attrs", "frozenlist", "multidict", "propcache", "yarl", "idna", "async-timeout",
              "requests", "charset-normalizer", "urllib3", "certifi", "rich", "markdown-it-py",
              "mdurl", "pygments", "redis", "pandas", "numpy", "python-dateutil", "six", "pytz",
              "tzdata",
          },
          "from mimeiapify import *; from mimeiapify import Airtable, AirtableAsync, Wompi, "
          "WompiAsync, GlobalSymphony; import mimeiapify.symphony_ai, mimeiapify.testing.services; "
          "import sys; assert 'mimeia' not in sys.modules"),
]  # fmt: skip
# The deployable services pull in their frameworks; what matters there is that
# neither pulls in our dev command or another service.
SERVICE_FORBIDDEN = {"mimeia", "pytest"}
SERVICES = [
    ("automation-service", "import automation.app, automation.celery_app, automation.cli"),
    ("slack-connect", "import slack_connect.app, slack_connect.cli"),
    ("mimeia-console", "import mimeia_console.app, mimeia_console.cli"),
]


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 300) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def _uv(*args: str, cwd: Path = ROOT) -> str:
    assert UV, "uv is not on PATH (run the tests with `uv run`)"
    return _run([UV, *args], cwd=cwd)


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    _uv("build", "--wheel", "--all-packages", "--quiet", "-o", str(out))
    found = {}
    for wheel in out.glob("*.whl"):
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            name = re.search(r"^Name: (.+)$", zf.read(meta).decode(), re.M)
            assert name
            found[name.group(1).strip()] = wheel
    assert set(found) == set(MEMBERS), found
    return found


@pytest.fixture(scope="session")
def pytest_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest and its dependencies, as a pylock file cut from the workspace's lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    by_name = {p["name"]: p for p in lock["package"]}
    wanted, todo = set(), ["pytest"]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [d["name"] for d in by_name[name].get("dependencies", [])]
    out = tmp_path_factory.mktemp("pytest-lock") / "pylock.pytest.toml"
    full = _uv("export", "--frozen", "--all-packages", "--all-groups", "--no-emit-workspace",
               "--format", "pylock.toml", "--quiet")  # fmt: skip
    head, *blocks = full.split("[[packages]]\n")
    kept = [b for b in blocks if re.match(r'name = "([^"]+)"', b)[1] in wanted]  # type: ignore[index]
    out.write_text(head + "".join("[[packages]]\n" + b for b in kept))
    return out


def _venv(where: Path, dist: str, extra: str | None, wheels: dict[str, Path]) -> Path:
    """A fresh venv holding ``dist`` (with ``extra``) and exactly what it asks for."""
    _uv("venv", "--quiet", "--python", sys.executable, str(where))
    python = where / "bin" / "python"
    lock = where / "pylock.deps.toml"
    export = ["export", "--frozen", "--package", dist, "--no-dev", "--no-emit-workspace",
              "--format", "pylock.toml", "--quiet", "-o", str(lock)]  # fmt: skip
    _uv(*export, *(["--extra", extra] if extra else []))
    _uv("pip", "install", "--offline", "--quiet", "--python", str(python), "-r", str(lock))
    # our own wheels in the closure (mimeia-common[receiver] needs mimeia-flowmesh)
    ours = [dist, *sorted(_workspace_deps(dist, extra))]
    _uv("pip", "install", "--offline", "--no-deps", "--quiet", "--python", str(python),
        *(str(wheels[m]) for m in ours))  # fmt: skip
    _uv("pip", "check", "--quiet", "--python", str(python))
    return python


def _workspace_deps(dist: str, extra: str | None) -> set[str]:
    """Our own dists among what ``dist[extra]`` needs, through our own dists' dependencies
    (mimeia-common[receiver] -> mimeia-flowmesh -> mimeia-telemetry)."""
    lock = {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    found: set[str] = set()
    todo = [(dist, extra)]
    while todo:
        name, wanted = todo.pop()
        entry = lock[name]
        optional = entry.get("optional-dependencies", {})
        deps = entry.get("dependencies", []) + optional.get(wanted, [])
        for dep in deps:
            if dep["name"] in MEMBERS and dep["name"] not in found:
                found.add(dep["name"])
                todo.append((dep["name"], None))
    return found - {dist}


def _installed(python: Path) -> set[str]:
    names = _uv("pip", "freeze", "--quiet", "--python", str(python)).splitlines()
    return {re.split(r"[=@ ]", line, maxsplit=1)[0].strip().lower() for line in names if line}


def _fixtures(python: Path, where: Path, *extra: str) -> str:
    empty = where / "empty"
    empty.mkdir(exist_ok=True)
    return _run([str(python), "-m", "pytest", "--fixtures", "-q", "-p", "no:cacheprovider",
                 *extra], cwd=empty)  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_a_library_installs_alone_and_lean(
    case: Case, wheels: dict[str, Path], pytest_lock: Path, tmp_path: Path
) -> None:
    python = _venv(tmp_path / "venv", case.dist, case.extra, wheels)
    pulled = _installed(python) - {case.dist}
    print(f"\n{case.label} pulls in ({len(pulled)}): {', '.join(sorted(pulled))}")
    assert "mimeia" not in pulled, "a library depends on our dev command"
    assert pulled <= case.allowed, f"not on the allow-list: {sorted(pulled - case.allowed)}"
    _run([str(python), "-c", case.check])

    _uv("pip", "install", "--offline", "--quiet", "--python", str(python), "-r", str(pytest_lock))
    listing = _fixtures(python, tmp_path)
    assert not [f for f in OUR_FIXTURES if f in listing], listing


@pytest.mark.parametrize(("dist", "check"), SERVICES, ids=[s[0] for s in SERVICES])
def test_a_service_installs_without_our_dev_tools(
    dist: str, check: str, wheels: dict[str, Path], tmp_path: Path
) -> None:
    python = _venv(tmp_path / "venv", dist, None, wheels)
    pulled = _installed(python) - {dist}
    print(f"\n{dist} pulls in ({len(pulled)}): {', '.join(sorted(pulled))}")
    assert not pulled & SERVICE_FORBIDDEN, sorted(pulled & SERVICE_FORBIDDEN)
    _run([str(python), "-c", check])


def test_mimeia_installs_alone_its_fixtures_are_opt_in_and_entry_points_work(
    wheels: dict[str, Path], pytest_lock: Path, tmp_path: Path
) -> None:
    python = _venv(tmp_path / "venv", "mimeia", None, wheels)
    pulled = _installed(python) - {"mimeia"}
    print(f"\nmimeia pulls in ({len(pulled)}): {', '.join(sorted(pulled))}")
    assert pulled <= {"redis", "asyncpg", "async-timeout"}, sorted(pulled)
    discover = "from mimeia import discover_services as d; print([s.name for s in d()])"
    assert _run([str(python), "-c", discover]).strip() == "[]"

    # installing mimeia (and pytest) adds no fixture; `-p mimeia.testing.pytest_plugin` does
    _uv("pip", "install", "--offline", "--quiet", "--python", str(python), "-r", str(pytest_lock))
    assert not [f for f in OUR_FIXTURES if f in _fixtures(python, tmp_path)]
    asked = _fixtures(python, tmp_path, "-p", "mimeia.testing.pytest_plugin")
    assert all(f in asked for f in OUR_FIXTURES), asked

    # next to the FlowMesh SDK (no server extra), `mimeia up` finds its plain-dict service
    deps = tmp_path / "pylock.flowmesh.toml"
    _uv("export", "--frozen", "--package", "mimeia-flowmesh", "--no-dev", "--no-emit-workspace",
        "--format", "pylock.toml", "--quiet", "-o", str(deps))  # fmt: skip
    _uv("pip", "install", "--offline", "--quiet", "--python", str(python), "-r", str(deps))
    _uv("pip", "install", "--offline", "--no-deps", "--quiet", "--python", str(python),
        str(wheels["mimeia-flowmesh"]), str(wheels["mimeia-telemetry"]))  # fmt: skip
    assert _run([str(python), "-c", discover]).strip() == "['flowmesh']"


@pytest.mark.parametrize("dist", sorted(MEMBERS))
def test_every_wheel_carries_its_metadata(dist: str, wheels: dict[str, Path]) -> None:
    with zipfile.ZipFile(wheels[dist]) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for package in TOP_PACKAGES[dist]:
        assert f"{package}/py.typed" in names, f"{dist}: {package}/py.typed"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), dist
    assert "License-Expression: MIT" in meta
    assert "Project-URL: Source, " in meta and "Project-URL: Issues, " in meta
    assert "Classifier: Typing :: Typed" in meta
    assert "Classifier: Programming Language :: Python :: 3\n" in meta, dist
    assert "\nClassifier: Operating System :: " in meta, dist
    assert "Requires-Python: >=3.11" in meta, dist
    assert "Description-Content-Type: text/markdown" in meta
    assert len(meta.split("\n\n", 1)[1]) > 200, f"{dist}: README missing or empty"
    assert "Requires-Dist: mimeia\n" not in meta and "Requires-Dist: mimeia;" not in meta
    assert not any(n.endswith("entry_points.txt") and b"pytest11" in zf_read(wheels[dist], n)
                   for n in names)  # fmt: skip


def zf_read(wheel: Path, name: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(name)
