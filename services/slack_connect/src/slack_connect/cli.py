"""``slack-connect serve`` (the service) and ``slack-connect paragon-emulator``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common_core.log_manager import configure_logging
from common_core.serving import serve_asgi

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slack-connect")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (settings from env / op.env)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8676)
    serve.add_argument("--store", default=None, metavar="URL",
                       help="sync state: sqlite:///path.db or redis://host:port/db "
                            "(overrides SLACK_CONNECT_STORE_URL)")  # fmt: skip
    serve.add_argument("--dev-state", type=Path, default=None,
                       help="fill unset settings with local dev material (mimeia up)")  # fmt: skip
    serve.add_argument(
        "--dev-paragon", default=None, help="Paragon emulator URL (with --dev-state)"
    )
    serve.add_argument("--dev-mesh", default=None, help="mesh receiver URL (with --dev-state)")

    emulator = commands.add_parser("paragon-emulator", help="run the local Paragon emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8677)
    emulator.add_argument("--project-id", required=True)
    emulator.add_argument("--public-key-file", type=Path, required=True)
    emulator.add_argument("--audience", default=None)
    emulator.add_argument("--data-dir", type=Path, required=True,
                          help="Slack-shaped JSON the emulated workspace serves")  # fmt: skip
    emulator.add_argument("--callback-url", required=True,
                          help="the slack-connect service the workflows post to")  # fmt: skip
    emulator.add_argument("--incoming-secret-file", type=Path, required=True,
                          help="file with the service's incoming secret")  # fmt: skip
    emulator.add_argument("--workflow", action="append", default=[], metavar="KIND=ID",
                          help="workflow id for channels, users or messages")  # fmt: skip

    args = parser.parse_args(argv)
    configure_logging("INFO")
    if args.command == "serve":
        from slack_connect.app import create_app
        from slack_connect.settings import Settings

        if args.dev_state is not None:
            _use_dev_defaults(args.dev_state, args.dev_paragon, args.dev_mesh)
        overrides = {"store_url": args.store} if args.store is not None else {}
        settings = Settings(**overrides)
        serve_asgi(create_app(settings), args.host, args.port)
        return 0

    from slack_connect.emulator import EmulatorConfig, create_emulator

    workflows = {}
    for item in args.workflow:
        kind, sep, workflow_id = item.partition("=")
        if not sep or kind not in {"channels", "users", "messages"} or not workflow_id:
            parser.error(f"--workflow must be channels=ID, users=ID or messages=ID, got {item!r}")
        workflows[workflow_id] = kind
    config = EmulatorConfig(
        project_id=args.project_id,
        public_key_pem=args.public_key_file.read_text(),
        audience=args.audience,
        data_dir=args.data_dir,
        callback_url=args.callback_url,
        incoming_secret=args.incoming_secret_file.read_text().strip(),
        workflows=workflows,
    )
    serve_asgi(create_emulator(config), args.host, args.port)
    return 0


def _use_dev_defaults(state_dir: Path, paragon_url: str | None, mesh_url: str | None) -> None:
    """Local runs only: settings the environment leaves unset come from dev material."""
    from slack_connect.devstack import DEV_PROJECT_ID, DEV_WORKFLOWS, ensure_dev_material

    material = ensure_dev_material(state_dir)
    defaults = {
        "SLACK_CONNECT_PARAGON_PROJECT_ID": DEV_PROJECT_ID,
        "SLACK_CONNECT_PARAGON_SIGNING_KEY_FILE": str(material.private_key),
        "SLACK_CONNECT_INCOMING_SECRET": material.incoming_secret,
        "SLACK_CONNECT_ADMIN_TOKEN": material.admin_token,
        "SLACK_CONNECT_WORKFLOW_CHANNELS": DEV_WORKFLOWS["channels"],
        "SLACK_CONNECT_WORKFLOW_USERS": DEV_WORKFLOWS["users"],
        "SLACK_CONNECT_WORKFLOW_MESSAGES": DEV_WORKFLOWS["messages"],
    }
    if paragon_url:
        defaults["SLACK_CONNECT_PARAGON_API_BASE"] = paragon_url
        defaults["SLACK_CONNECT_PARAGON_TRIGGER_BASE"] = paragon_url
    if mesh_url:
        defaults["SLACK_CONNECT_MESH_URL"] = mesh_url
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


if __name__ == "__main__":
    sys.exit(main())
