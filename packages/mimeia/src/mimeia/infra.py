"""The servers the platform relies on (Redis, PostgreSQL): where they are, whether
they answer, and how to bring a local one back when it is down."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
PROBE_TIMEOUT = 3.0


def redis_start_argv(port: int = 6379) -> list[str]:
    """The command ARCHITECTURE.md gives for a throwaway local Redis."""
    return ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
            "--port", str(port), "--save", "", "--appendonly", "no"]  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """A URL and where it came from (an environment variable or our default)."""

    url: str
    source: str


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str


def redis_setting() -> Setting:
    if url := os.environ.get("REDIS_URL"):
        return Setting(url, "env REDIS_URL")
    return Setting(DEFAULT_REDIS_URL, "default")


def postgres_setting() -> Setting:
    if url := os.environ.get("DATABASE_URL"):
        return Setting(url, "env DATABASE_URL")
    return Setting(DEFAULT_DATABASE_URL, "default")


def plain_postgres_dsn(url: str) -> str:
    """asyncpg wants ``postgresql://``; SQLAlchemy URLs carry a ``+driver``."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def redact(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def probe_redis(url: str) -> Probe:
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
        )
        try:
            info = client.info("server")
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return Probe(False, f"{type(exc).__name__}: {exc}")
    return Probe(True, f"redis {info.get('redis_version', '?')}")


def probe_postgres(url: str) -> Probe:
    async def check() -> str:
        conn = await asyncpg.connect(plain_postgres_dsn(url), timeout=PROBE_TIMEOUT)
        try:
            return str(await conn.fetchval("SHOW server_version", timeout=PROBE_TIMEOUT))
        finally:
            await conn.close(timeout=PROBE_TIMEOUT)

    try:
        version = asyncio.run(check())
    except (TimeoutError, OSError, asyncpg.PostgresError, ValueError) as exc:
        return Probe(False, f"{type(exc).__name__}: {exc}")
    return Probe(True, f"postgresql {version}")


def is_local(url: str) -> bool:
    host = urlsplit(url).hostname or "localhost"
    return host in {"127.0.0.1", "localhost", "::1"}


class StartError(RuntimeError):
    """A local server could not be started; the message says what to do."""


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)


def _apt_install(package: str, what: str) -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise StartError(f"{what} is not installed: install the '{package}' package and re-run")
    print(f"   installing {package} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, timeout=600,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run(["apt-get", "install", "-y", "-q", package], check=True, env=env,
                   timeout=900, stdout=subprocess.DEVNULL)  # fmt: skip


def start_redis(url: str) -> None:
    if shutil.which("redis-server") is None:
        _apt_install("redis-server", "Redis")
    _run(redis_start_argv(urlsplit(url).port or 6379))


def _postgres_versions() -> list[str]:
    root = Path("/etc/postgresql")
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def start_postgres(url: str) -> None:
    # Debian clusters listen where their config says; the URL only tells us it is local.
    if shutil.which("pg_ctlcluster") is None or not _postgres_versions():
        _apt_install("postgresql", "PostgreSQL")
        _trust_local_connections()
    for version in _postgres_versions():
        _run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])


def _trust_local_connections() -> None:
    # A fresh Debian cluster asks for passwords on TCP; tests connect as
    # postgres with trust auth over loopback, as ARCHITECTURE.md says.
    for version in _postgres_versions():
        hba = Path("/etc/postgresql") / version / "main" / "pg_hba.conf"
        text = hba.read_text()
        line = "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
        if line not in text:
            hba.write_text(line + text)


def wait_until(check: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.3)
    return False


def ensure_database_exists(url: str) -> None:
    """Create the database named in ``url`` if the server lacks it (fresh installs)."""
    dsn = plain_postgres_dsn(url)
    name = urlsplit(dsn).path.lstrip("/") or "postgres"

    async def create() -> None:
        admin = urlsplit(dsn)._replace(path="/postgres").geturl()
        conn = await asyncpg.connect(admin, timeout=PROBE_TIMEOUT)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
