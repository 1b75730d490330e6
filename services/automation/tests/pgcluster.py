"""A private PostgreSQL cluster for fault tests: ``initdb`` into a scratch
directory, then start, stop and restart it at will without touching anybody
else's server.

The server binaries come from ``PG_BINDIR``, ``pg_config --bindir``, or the
newest ``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root, so
under root the cluster belongs to (and runs as) the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from mimeia.testing import free_port

_TIMEOUT = 60


def bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` live."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "initdb not found: install PostgreSQL (apt-get install postgresql) or set PG_BINDIR"
    )


class PrivatePostgres:
    """One cluster on a free loopback port, trust auth, user ``postgres``."""

    def __init__(self) -> None:
        self.bin = bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="automation-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                "full_page_writes = off\nmax_connections = 200\n"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            user=self._user,
            cwd=self.root,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stdout}{done.stderr}")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w",
                  "-t", str(_TIMEOUT), *args)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> float:
        """Stop and start again; return the seconds the server was away."""
        started = time.monotonic()
        self._ctl("-m", mode, "restart")
        return time.monotonic() - started

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
