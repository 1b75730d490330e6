"""`mimeia up`: start every registered service, print its address, stop all on a signal."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from mimeia.services import Address, ServiceSpec

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class StartupFailed(RuntimeError):
    pass


@dataclass
class Running:
    spec: ServiceSpec
    address: Address
    process: subprocess.Popen[bytes]


def _echo(spec: ServiceSpec, line: bytes) -> None:
    sys.stdout.write(f"  [{spec.name}] {line.decode(errors='replace')}\n")
    sys.stdout.flush()


def _wait_ready(proc: subprocess.Popen[bytes], spec: ServiceSpec, timeout: float) -> bytes:
    """Read the child's output until it says it is ready (echoing it), or fail.

    Returns what was read past the ready line (lines that came in the same read,
    and a partial line), for :func:`_pump` to echo first: nothing is dropped.
    """
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffered = b""
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=0.2):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                _echo(spec, line)
                if spec.ready_text in line.decode(errors="replace"):
                    return buffered
    finally:
        sel.close()
    try:
        # Output ended or time ran out: give a dying child a moment to be reaped
        # so the message says how it exited.
        code: int | None = proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        code = None
    why = f"exited with {code}" if code is not None else f"not ready after {timeout:.0f}s"
    raise StartupFailed(f"{spec.name} {why}")


def _pump(running: Running, pending: bytes = b"") -> None:
    """Keep echoing a ready service's output (starting with ``pending``) so its pipe
    never fills. Reads the descriptor directly, as :func:`_wait_ready` did: a
    buffered reader would not see what that one already read."""
    assert running.process.stdout is not None
    fd = running.process.stdout.fileno()
    buffered = pending
    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            _echo(running.spec, line)
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        buffered += chunk
    if buffered:
        _echo(running.spec, buffered)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the child's whole process group: it leads its own session, and a
    service's own children (workers, reloaders) must stop with it."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(proc.pid, sig)


def start_all(
    specs: Sequence[ServiceSpec], state_dir: Path, host: str = "127.0.0.1"
) -> list[Running]:
    addresses = {s.name: Address(host, s.port_from_env()) for s in specs}
    state_dir.mkdir(parents=True, exist_ok=True)
    running: list[Running] = []
    try:
        for spec in specs:
            argv = spec.argv(addresses, str(state_dir))
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **spec.env},
                start_new_session=True,  # our Ctrl-C is handled here, not sent twice
            )
            running.append(Running(spec, addresses[spec.name], proc))
            rest = _wait_ready(proc, spec, READY_TIMEOUT)
            threading.Thread(target=_pump, args=(running[-1], rest), daemon=True).start()
            url = f"{spec.scheme}://{addresses[spec.name]}"
            print(f"up   {spec.name:<18} {url}  {spec.description}", flush=True)
    except BaseException:
        stop_all(running)
        raise
    return running


def stop_all(running: Sequence[Running]) -> list[tuple[str, int]]:
    """SIGTERM every service's process group (last started first), then SIGKILL
    the groups of those that linger."""
    for r in reversed(running):
        if r.process.poll() is None:
            _signal_group(r.process, signal.SIGTERM)
    results = []
    for r in reversed(running):
        try:
            code = r.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(r.process, signal.SIGKILL)
            code = r.process.wait()
        results.append((r.spec.name, code))
    return results


def run_until_signal(specs: Sequence[ServiceSpec], state_dir: Path) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if not specs:
        print("no services are registered yet; nothing to start", flush=True)
        return 0
    try:
        running = start_all(specs, state_dir)
    except StartupFailed as exc:
        print(f"mimeia up: {exc}", file=sys.stderr, flush=True)
        return 1
    print("all services up; press Ctrl-C to stop", flush=True)
    exit_code = 0
    while not stop.wait(0.5):
        dead = [r for r in running if r.process.poll() is not None]
        if dead:
            names = ", ".join(f"{r.spec.name} (exit {r.process.returncode})" for r in dead)
            print(f"mimeia up: service stopped unexpectedly: {names}", file=sys.stderr, flush=True)
            exit_code = 1
            break
    print("stopping ...", flush=True)
    for name, code in stop_all(running):
        print(f"down {name:<18} exit {code}", flush=True)
    return exit_code
