import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from mimeia.ports import free_port, port_is_open
from mimeia.services import Address, ServiceSpec, order_by_dependencies
from mimeia.supervisor import StartupFailed, start_all, stop_all

# A real HTTP server that announces itself the way every platform service must.
SERVER = textwrap.dedent("""
    import http.server, signal, sys
    port = int(sys.argv[1])
    srv = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    srv.serve_forever()
""")


def _spec(name: str, port: int, after: tuple[str, ...] = ()) -> ServiceSpec:
    def argv(addresses: Mapping[str, Address], state_dir: str) -> list[str]:
        return [sys.executable, "-c", SERVER, str(addresses[name].port)]

    return ServiceSpec(name=name, description="test", default_port=port, argv=argv, after=after)


def test_order_puts_dependencies_first() -> None:
    a, b, c = _spec("a", 1, after=("c",)), _spec("b", 2), _spec("c", 3, after=("b",))
    assert [s.name for s in order_by_dependencies([a, b, c])] == ["b", "c", "a"]


def test_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        order_by_dependencies([_spec("a", 1, after=("b",)), _spec("b", 2, after=("a",))])


def test_start_and_stop(tmp_path: Path) -> None:
    p1, p2 = free_port(), free_port()
    running = start_all([_spec("one", p1), _spec("two", p2)], tmp_path)
    assert port_is_open("127.0.0.1", p1) and port_is_open("127.0.0.1", p2)
    codes = dict(stop_all(running))
    assert codes == {"one": 0, "two": 0}
    assert not port_is_open("127.0.0.1", p1) and not port_is_open("127.0.0.1", p2)


def test_a_service_that_dies_at_start_stops_the_others(tmp_path: Path) -> None:
    good = _spec("good", free_port())
    bad = ServiceSpec("bad", "exits", 1, lambda a, s: [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(StartupFailed, match="bad exited with 3"):
        start_all([good, bad], tmp_path)
    assert not port_is_open("127.0.0.1", good.default_port)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_until_signal_stops_everything(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = {sys.path!r}
        from pathlib import Path
        from tests_support import spec
        from mimeia.supervisor import run_until_signal
        sys.exit(run_until_signal([spec("svc", {port})], Path({str(tmp_path)!r})))
    """)
    (tmp_path / "tests_support.py").write_text(
        "import sys\n"
        + f"SERVER = {SERVER!r}\n"
        + textwrap.dedent("""
        from mimeia.services import ServiceSpec
        def spec(name, port):
            return ServiceSpec(name, "test", port,
                               lambda a, s: [sys.executable, "-c", SERVER, str(a[name].port)])
        """)
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "all services up" in line:
            break
    assert any(f"http://127.0.0.1:{port}" in ln for ln in lines), lines
    assert port_is_open("127.0.0.1", port)
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, rest
    assert "down svc" in rest
    deadline = time.monotonic() + 5
    while port_is_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_is_open("127.0.0.1", port)


def test_lines_in_the_same_read_as_the_ready_line_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one write: the ready line, two more lines and a partial one, then more later
    child = textwrap.dedent("""
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        os.write(1, b"booting\\nlistening on here\\nright after 1\\nright after 2\\npart")
        time.sleep(0.3)
        os.write(1, b"ial\\nlater\\n")
        time.sleep(300)
    """)
    spec = ServiceSpec("burst", "test", free_port(), lambda a, s: [sys.executable, "-c", child])
    running = start_all([spec], tmp_path)
    try:
        deadline = time.monotonic() + 10
        seen = ""
        while "[burst] later" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
            seen += capsys.readouterr().out
    finally:
        stop_all(running)
    lines = [ln.strip() for ln in seen.splitlines() if ln.strip().startswith("[burst]")]
    assert lines == [
        "[burst] booting", "[burst] listening on here", "[burst] right after 1",
        "[burst] right after 2", "[burst] partial", "[burst] later",
    ]  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has stopped; only its parent's wait is missing


def test_stop_signals_the_whole_process_group(tmp_path: Path) -> None:
    """A service's own children (workers) stop with it: each child leads its own
    session, so the supervisor signals the group, not just the pid."""
    pidfile = tmp_path / "grandchild.pid"
    child = textwrap.dedent(f"""
        import subprocess, sys
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        open({str(pidfile)!r}, "w").write(str(worker.pid))
        print("listening on here", flush=True)
        worker.wait()
    """)
    spec = ServiceSpec("parent", "test", free_port(), lambda a, s: [sys.executable, "-c", child])
    running = start_all([spec], tmp_path)
    worker = int(pidfile.read_text())
    assert _alive(worker)
    stop_all(running)
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the service's worker outlived it"
