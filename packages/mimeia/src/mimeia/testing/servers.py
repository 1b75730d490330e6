"""Start a real server as a child process for a test and stop it afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    ready_line: str
    output: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return "".join(self.output)


def _read_until(proc: subprocess.Popen[str], text: str, out: list[str], done: threading.Event,
                found: list[str]) -> None:  # fmt: skip
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, ""):
        out.append(line)
        if not found and text in line:
            found.append(line.strip())
            done.set()
    done.set()


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies do not count: an orphan's
    zombie waits for whoever adopted it to reap it)."""
    proc = "/proc"
    if os.path.isdir(proc):
        for name in os.listdir(proc):
            if not name.isdigit():
                continue
            try:
                with open(f"{proc}/{name}/stat") as f:
                    # "pid (comm) state ppid pgrp ..."; comm may hold spaces and parens
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen[str], grace: float = 10.0) -> None:
    """Stop ``proc`` (started in a session of its own) and everything it started: SIGTERM
    to its whole process group, up to ``grace`` seconds for the group to exit, then
    SIGKILL to whatever is left (say a Celery pool child that outlived its master)."""
    pgid = proc.pid  # the leader of its own session and group
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()


@contextmanager
def run_server(
    argv: Sequence[str],
    ready_text: str = "listening on",
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stop_timeout: float = 10.0,
) -> Iterator[ServerProcess]:
    """Run ``argv`` until it prints ``ready_text``; on exit SIGTERM its process group,
    then SIGKILL what is left after ``stop_timeout`` seconds (see :func:`stop_group`).

    The server starts in a session of its own, so the processes it forks (worker pool
    children...) share its process group and are stopped with it.
    ``argv[0] == "python"`` means the interpreter running the tests.
    """
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    out: list[str] = []
    found: list[str] = []
    done = threading.Event()
    reader = threading.Thread(target=_read_until, args=(proc, ready_text, out, done, found),
                              daemon=True)  # fmt: skip
    reader.start()
    try:
        done.wait(timeout)
        if not found:
            stop_group(proc, grace=0)
            raise RuntimeError(
                f"{' '.join(argv)} did not print {ready_text!r} within {timeout}s; "
                f"output:\n{''.join(out)}"
            )
        yield ServerProcess(proc, found[0], out)
    finally:
        # also when the server itself has exited: its children may not have
        stop_group(proc, grace=stop_timeout)
        reader.join(timeout=5)
