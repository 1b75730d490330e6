"""run_server stops the server's whole process group: a child the server forked (like
a Celery prefork pool child) does not outlive the test, even one that ignores SIGTERM
after its parent has gone."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from mimeia.testing import run_server

SERVER = textwrap.dedent(
    """
    import os, signal, sys, time
    pids = []
    for ignores_term in (False, True):
        pid = os.fork()
        if pid == 0:
            if ignores_term:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(600)
            os._exit(0)
        pids.append(pid)
    open(sys.argv[1], "w").write(" ".join(map(str, pids)))
    # on SIGTERM the parent leaves at once, without a word to its children
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("listening on nothing", flush=True)
    time.sleep(600)
    """
)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_children_of_a_server_are_stopped_with_it(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    argv = ["python", "-c", SERVER, str(pids_file)]
    with run_server(argv, timeout=20, stop_timeout=1) as server:
        children = [int(p) for p in pids_file.read_text().split()]
        assert all(_running(p) for p in children)
        assert os.getpgid(server.process.pid) == server.process.pid  # its own group
        assert all(os.getpgid(p) == server.process.pid for p in children)
    started = time.monotonic()
    while any(_running(p) for p in children):
        assert time.monotonic() - started < 5, [p for p in children if _running(p)]
        time.sleep(0.05)
