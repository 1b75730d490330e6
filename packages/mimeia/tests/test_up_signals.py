"""`mimeia up` stops every service on SIGTERM, SIGINT and SIGHUP, at any moment.

Each test runs the real supervisor (`run_until_signal`) as its own process over
small real services, signals it from outside, and then reads /proc: no process
of any service's process group may be left.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mimeia.supervisor import EXIT_FORCED, FORCE_AFTER, live_groups

# A service that starts a worker in its own process group, then announces itself.
# On SIGTERM it lingers for `linger` seconds, or for ever when `linger` is None.
SERVICE = """
import signal, subprocess, sys, time
linger = {linger!r}
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
def on_term(*_):
    if linger is None:
        return
    time.sleep(linger)
    worker.terminate()
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
if {ready!r}:
    print("listening on here", flush=True)
while True:
    time.sleep(1)
"""


def _supervisor(
    tmp_path: Path, services: dict[str, dict[str, object]], stop_timeout: float
) -> Path:
    """A script that runs the real supervisor over ``services`` (name -> SERVICE's
    format arguments), in that order."""
    codes = {name: SERVICE.format(**fmt) for name, fmt in services.items()}
    script = tmp_path / "up.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path[:0] = {sys.path!r}
        from pathlib import Path
        from mimeia.services import ServiceSpec
        from mimeia.supervisor import run_until_signal
        codes = {codes!r}
        specs = [ServiceSpec(name, "test", 1, lambda a, s, c=code: [sys.executable, "-c", c])
                 for name, code in codes.items()]
        sys.exit(run_until_signal(specs, Path({str(tmp_path / "state")!r}), {stop_timeout!r}))
        """)
    )
    return script


def _read_until(proc: subprocess.Popen[str], text: str, timeout: float = 10) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} in {lines}")


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process."""
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if fields[0] not in ("Z", "X"):
                out.append((int(entry.name), int(fields[1]), int(fields[2])))
    return out


def _service_groups(supervisor_pid: int, count: int) -> set[int]:
    """The process groups of the supervisor's children (each leads its own),
    once ``count`` of them are there, each with its worker."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        procs = _processes()
        leaders = {pid for pid, ppid, _ in procs if ppid == supervisor_pid}
        sizes = {g: sum(1 for *_, pg in procs if pg == g) for g in leaders}
        if len(leaders) == count and all(n >= 2 for n in sizes.values()):
            return leaders
        time.sleep(0.05)
    raise AssertionError("the services and their workers did not all start")


def _assert_exits(proc: subprocess.Popen[str], within: float) -> str:
    started = time.monotonic()
    rest, _ = proc.communicate(timeout=within)
    assert time.monotonic() - started < within
    return rest


def _stop_and_check(proc: subprocess.Popen[str], groups: set[int]) -> None:
    """Whatever happened, nothing of the test stays behind: when the command is
    still running, it and everything under it is killed (and the test fails)."""
    left = set()
    if proc.poll() is None:
        procs = _processes()
        tree, grew = {proc.pid}, True
        while grew:
            more = {pid for pid, ppid, _ in procs if ppid in tree} - tree
            tree, grew = tree | more, bool(more)
        left = {pg for pid, _, pg in procs if pid in tree} - {os.getpgrp()}
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    left |= live_groups(groups)
    for pgid in left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    assert not left, f"process groups left running: {left}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_services_start_stops_them_at_once(tmp_path: Path, sig: int) -> None:
    """The bug: a stop signal during start-up was recorded but only acted on
    once every service was up (up to a minute per service not getting ready)."""
    services = {"ready": {"linger": 0, "ready": True}, "slow": {"linger": 0, "ready": False}}
    script = _supervisor(tmp_path, services, stop_timeout=5)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    groups: set[int] = set()
    try:
        _read_until(proc, "up   ready")
        groups = _service_groups(proc.pid, 2)  # "slow" runs, never gets ready
        proc.send_signal(sig)
        rest = _assert_exits(proc, within=4)
        assert proc.returncode == 0, rest
        assert f"stopping ... ({signal.Signals(sig).name}" in rest
        assert "down slow" in rest and "down ready" in rest
        assert "all services up" not in rest
    finally:
        _stop_and_check(proc, groups)


def test_a_service_that_ignores_sigterm_is_killed_with_its_group(tmp_path: Path) -> None:
    services = {"polite": {"linger": 0, "ready": True}, "stubborn": {"linger": None, "ready": True}}
    script = _supervisor(tmp_path, services, stop_timeout=1)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    groups: set[int] = set()
    try:
        _read_until(proc, "all services up")
        groups = _service_groups(proc.pid, 2)
        proc.send_signal(signal.SIGTERM)
        rest = _assert_exits(proc, within=5)
        assert proc.returncode == 0, rest
        assert "down stubborn           exit -9" in rest
        assert "down polite             exit 0" in rest
    finally:
        _stop_and_check(proc, groups)


def test_a_second_ctrl_c_while_stopping_kills_at_once(tmp_path: Path) -> None:
    services = {"stubborn": {"linger": None, "ready": True}}
    script = _supervisor(tmp_path, services, stop_timeout=60)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    groups: set[int] = set()
    try:
        _read_until(proc, "all services up")
        groups = _service_groups(proc.pid, 1)
        proc.send_signal(signal.SIGINT)
        _read_until(proc, "stopping ...")
        proc.send_signal(signal.SIGINT)  # within FORCE_AFTER: a copy, not a second Ctrl-C
        time.sleep(FORCE_AFTER + 0.2)
        assert proc.poll() is None and live_groups(groups) == groups
        proc.send_signal(signal.SIGINT)
        rest = _assert_exits(proc, within=3)
        assert proc.returncode == EXIT_FORCED, rest
        assert "killed every service" in rest and "exit -9" in rest
    finally:
        _stop_and_check(proc, groups)


# the test command installs uv with pip: its binary sits beside this Python when not on PATH
UV = os.environ.get("UV") or shutil.which("uv") or str(Path(sys.executable).parent / "uv")


@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_under_timeout_and_uv_run(tmp_path: Path, sig: str) -> None:
    """`timeout` signals its child and its own group, and `uv run` (without a
    terminal) forwards the signal too: the supervisor gets it two or three
    times within ~0.2 s. That is one stop request, not a Ctrl-C to kill: the
    service, which takes 0.5 s to stop, still stops cleanly."""
    services = {"slow-stop": {"linger": 0.5, "ready": True}}
    script = _supervisor(tmp_path, services, stop_timeout=5)
    assert Path(UV).exists() and shutil.which("timeout"), "needs uv and coreutils' timeout"
    argv = ["timeout", "-s", sig, "3", UV, "run", "--no-project"]
    proc = subprocess.Popen([*argv, sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    groups: set[int] = set()
    try:
        _read_until(proc, "all services up")
        groups = _service_groups(_child_of(_child_of(proc.pid)), 1)
        rest = _assert_exits(proc, within=8)
        assert proc.returncode == 124, rest  # timeout's: it had to signal
        assert f"stopping ... (SIG{sig}" in rest
        assert "down slow-stop          exit 0" in rest, rest
        assert "killed" not in rest
    finally:
        _stop_and_check(proc, groups)


def _child_of(pid: int) -> int:
    children = [child for child, ppid, _ in _processes() if ppid == pid]
    assert len(children) == 1, children
    return children[0]
