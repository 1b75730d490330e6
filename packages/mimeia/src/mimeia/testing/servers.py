"""Start a real server as a child process for a test and stop it afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


@contextmanager
def run_server(
    argv: Sequence[str],
    ready_text: str = "listening on",
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Iterator[ServerProcess]:
    """Run ``argv`` until it prints ``ready_text``; SIGTERM it (then SIGKILL) on exit.

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
            proc.kill()
            proc.wait()
            raise RuntimeError(
                f"{' '.join(argv)} did not print {ready_text!r} within {timeout}s; "
                f"output:\n{''.join(out)}"
            )
        yield ServerProcess(proc, found[0], out)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=5)
