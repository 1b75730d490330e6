import signal
import subprocess
import sys
import textwrap

import pytest

from mimeia.testing import free_port

APP = textwrap.dedent("""
    import sys
    from common_core.serving import serve_asgi

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    serve_asgi(app, "127.0.0.1", int(sys.argv[1]))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_asgi_stops_with_exit_status_zero(sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", APP, str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == f"listening on http://127.0.0.1:{port}"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
