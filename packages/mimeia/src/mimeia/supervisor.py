"""`mimeia up`: start every registered service, print its address, stop all on a signal.

Stopping: SIGINT, SIGTERM or SIGHUP asks for an orderly stop at any moment, also
while services are still starting (a service that is not ready yet is stopped,
no further one is started). Each service's process group gets SIGTERM, last
started first; groups that still have a live process after ``STOP_TIMEOUT``
seconds get SIGKILL. A second SIGINT while stopping kills every group at once.
Exit status: 0 after an orderly stop on a signal, 1 when a service failed to
start or died, 130 (128 + SIGINT) when a second Ctrl-C forced the kill.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from mimeia.services import Address, ServiceSpec

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A SIGINT counts as "kill now" only this long after the first stop signal:
# `uv run` without a terminal forwards the SIGINT the process group already got
# (about 0.2 s later), and `timeout` signals both its child and its own group.
FORCE_AFTER = 1.0
EXIT_FORCED = 128 + signal.SIGINT


_Handler = Callable[[int, FrameType | None], Any] | int | None


class StartupFailed(RuntimeError):
    pass


class StopRequested(Exception):
    """A stop signal came while services were starting."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name} while starting")
        self.signum = signum


class Stopper:
    """What the signal handlers record. The handler only sets flags (it never
    raises), so a signal cannot land between starting a child and tracking it."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.forced = threading.Event()
        self.signum: int | None = None
        self._first_at = 0.0

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        now = time.monotonic()
        if not self.requested.is_set():
            self.signum, self._first_at = signum, now
            self.requested.set()
        elif signum == signal.SIGINT and now - self._first_at >= FORCE_AFTER:
            self.forced.set()

    def check(self) -> None:
        if self.requested.is_set():
            raise StopRequested(self.signum or signal.SIGTERM)

    def install(self) -> dict[signal.Signals, _Handler]:
        """Handle every stop signal; returns the handlers it replaced."""
        return {sig: signal.signal(sig, self.handle) for sig in STOP_SIGNALS}

    @staticmethod
    def restore(previous: dict[signal.Signals, _Handler]) -> None:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(sig, handler)


def _say(text: str, err: bool = False) -> None:
    """Print a status line; a closed terminal or pipe (SIGHUP, `| head`) must not
    keep the services from being stopped."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr if err else sys.stdout, flush=True)


@dataclass
class Running:
    spec: ServiceSpec
    address: Address
    process: subprocess.Popen[bytes]


def _echo(spec: ServiceSpec, line: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(f"  [{spec.name}] {line.decode(errors='replace')}\n")
        sys.stdout.flush()


def _wait_ready(
    proc: subprocess.Popen[bytes],
    spec: ServiceSpec,
    timeout: float,
    stopper: Stopper | None = None,
) -> bytes:
    """Read the child's output until it says it is ready (echoing it), or fail
    (:class:`StartupFailed`), or a stop signal comes (:class:`StopRequested`).

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
            if stopper is not None:
                stopper.check()
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
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(proc.pid, sig)


def live_groups(pgids: set[int]) -> set[int]:
    """Those of ``pgids`` that still hold a process that is not a zombie.

    Reads /proc where there is one: a reaped leader's orphaned workers can stay
    zombies under an init that does not reap, and those count as stopped.
    Elsewhere, a group answers signal 0 while anything is in it.
    """
    if not Path("/proc/self/stat").exists():
        alive = set()
        for pgid in pgids:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            alive.add(pgid)
        return alive
    found: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(b")", 1)[1].split()  # after "pid (comm)"
        state, pgrp = fields[0], int(fields[2])
        if pgrp in pgids and state not in (b"Z", b"X"):
            found.add(pgrp)
    return found


def start_all(
    specs: Sequence[ServiceSpec],
    state_dir: Path,
    host: str = "127.0.0.1",
    stopper: Stopper | None = None,
    stop_timeout: float = STOP_TIMEOUT,
) -> list[Running]:
    """Start ``specs`` in order, each once the one before is ready.

    On any failure, and on a stop signal recorded by ``stopper``, the services
    started so far are stopped (:func:`shutdown`) before the error propagates.
    """
    addresses = {s.name: Address(host, s.port_from_env()) for s in specs}
    state_dir.mkdir(parents=True, exist_ok=True)
    running: list[Running] = []
    try:
        for spec in specs:
            if stopper is not None:
                stopper.check()
            argv = spec.argv(addresses, str(state_dir))
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **spec.env},
                start_new_session=True,  # our Ctrl-C is handled here, not sent twice
            )
            running.append(Running(spec, addresses[spec.name], proc))
            rest = _wait_ready(proc, spec, READY_TIMEOUT, stopper)
            threading.Thread(target=_pump, args=(running[-1], rest), daemon=True).start()
            url = f"{spec.scheme}://{addresses[spec.name]}"
            _say(f"up   {spec.name:<18} {url}  {spec.description}")
    except BaseException as exc:
        shutdown(running, stopper, stop_timeout, why=str(exc))
        raise
    return running


def stop_all(
    running: Sequence[Running],
    timeout: float = STOP_TIMEOUT,
    force: threading.Event | None = None,
) -> list[tuple[str, int]]:
    """SIGTERM every service's process group (last started first), wait until no
    group has a live process, and SIGKILL the groups still alive after
    ``timeout`` seconds (at once when ``force`` gets set). Returns each
    service's exit status (negative: the signal that ended it)."""
    order = list(reversed(running))
    for r in order:
        _signal_group(r.process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    pending = {r.process.pid for r in order}
    while True:
        for r in order:
            r.process.poll()  # reap leaders as they exit
        pending = live_groups(pending)
        if not pending or time.monotonic() >= deadline or (force and force.is_set()):
            break
        if force is not None:
            force.wait(0.05)
        else:
            time.sleep(0.05)
    for r in order:
        if r.process.pid in pending:
            _signal_group(r.process, signal.SIGKILL)
    return [(r.spec.name, r.process.wait()) for r in order]


def shutdown(
    running: Sequence[Running],
    stopper: Stopper | None = None,
    timeout: float = STOP_TIMEOUT,
    why: str = "",
) -> list[tuple[str, int]]:
    """:func:`stop_all` with the ``stopping ...`` and ``down`` lines."""
    if stopper is not None and stopper.signum is not None:
        why = f"{signal.Signals(stopper.signum).name}; Ctrl-C again to kill now"
    _say(f"stopping ... ({why})" if why else "stopping ...")
    results = stop_all(running, timeout, stopper.forced if stopper else None)
    if stopper is not None and stopper.forced.is_set():
        _say("killed every service (second Ctrl-C)")
    for name, code in results:
        _say(f"down {name:<18} exit {code}")
    return results


def run_until_signal(
    specs: Sequence[ServiceSpec], state_dir: Path, stop_timeout: float = STOP_TIMEOUT
) -> int:
    """Start ``specs``, then wait for SIGINT, SIGTERM or SIGHUP (or a service
    dying) and stop them all. Returns the exit status described in the module."""
    stopper = Stopper()
    previous = stopper.install()
    try:
        return _run(specs, state_dir, stopper, stop_timeout)
    finally:
        stopper.restore(previous)


def _run(
    specs: Sequence[ServiceSpec], state_dir: Path, stopper: Stopper, stop_timeout: float
) -> int:
    if not specs:
        _say("no services are registered yet; nothing to start")
        return 0
    try:
        running = start_all(specs, state_dir, stopper=stopper, stop_timeout=stop_timeout)
    except StopRequested:
        return EXIT_FORCED if stopper.forced.is_set() else 0
    except StartupFailed as exc:
        _say(f"mimeia up: {exc}", err=True)
        return 1
    _say("all services up; press Ctrl-C to stop")
    exit_code = 0
    try:
        while not stopper.requested.wait(0.5):
            dead = [r for r in running if r.process.poll() is not None]
            if dead:
                names = ", ".join(f"{r.spec.name} (exit {r.process.returncode})" for r in dead)
                _say(f"mimeia up: service stopped unexpectedly: {names}", err=True)
                exit_code = 1
                break
    finally:
        shutdown(running, stopper, stop_timeout, why="a service stopped" if exit_code else "")
    return EXIT_FORCED if stopper.forced.is_set() else exit_code
