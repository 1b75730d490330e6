"""Run an emulator's aiohttp app until SIGTERM/SIGINT, announcing it the way `mimeia up` expects."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web


async def serve_until_signalled(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"listening on http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
