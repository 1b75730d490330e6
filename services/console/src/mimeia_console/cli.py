"""``mimeia-console serve``: run the console (``python -m mimeia_console`` too)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from mimeia_console.settings import ConfigurationError, ConsoleSettings


def dev_environment(state_dir: Path) -> dict[str, str]:
    """Settings `mimeia up` implies: loopback sign-in with the automation service's
    internal key, and slack-connect's admin token, both from the state directory."""
    env = {"CONSOLE_LOOPBACK_KEY_FILE": str(state_dir / "automation" / "internal_api_key")}
    admin = state_dir / "slack_connect" / "admin_token"
    if admin.exists():
        env["CONSOLE_SLACK_ADMIN_TOKEN"] = admin.read_text().strip()
    return env


class _Server(uvicorn.Server):
    # the console handles SIGTERM/SIGINT itself and exits 0 (uvicorn would re-raise)
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(settings: ConsoleSettings) -> None:
    from mimeia_console.app import create_app

    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, log_level="warning"
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, setattr, server, "should_exit", True)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise SystemExit(f"console could not listen on {settings.host}:{settings.port}")
        await asyncio.sleep(0.02)
    print(f"console listening on {settings.self_url()}", flush=True)
    await task


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mimeia-console")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the console")
    serve.add_argument("--host", help="address to bind (CONSOLE_HOST)")
    serve.add_argument("--port", type=int, help="port (CONSOLE_PORT)")
    serve.add_argument(
        "--dev-state", type=Path, help="mimeia up's state directory: loopback sign-in from it"
    )
    serve.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CONSOLE_* setting unless the environment has it",
    )
    args = parser.parse_args(argv)
    defaults: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("CONSOLE_"):
            parser.error(f"--set {item!r}: expected CONSOLE_NAME=value")
        defaults[key] = value
    if args.dev_state is not None:
        defaults.update(dev_environment(args.dev_state))
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    try:
        settings = ConsoleSettings(**overrides)  # type: ignore[arg-type]
    except (ConfigurationError, ValueError) as exc:
        print(f"mimeia-console: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
