"""``common-mesh serve``: the mesh receiver in front of a FlowMesh server;
``common-mesh hash-token``: the hash of a receiver token, for ``MESH_TOKENS``."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys

from common_core.log_manager import configure_logging
from common_core.serving import serve_asgi
from common_mesh.protocol import DEFAULT_PORT
from common_mesh.tokens import TOKEN_ENV, TOKENS_ENV, TOKENS_FILE_ENV, MeshTokens, hash_token

__all__ = ["main"]

RECEIVER_EXTRA_HINT = (
    "common-mesh serve needs the receiver extra: pip install 'mimeia-common[receiver]'"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="common-mesh")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the mesh receiver")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--flowmesh", default="127.0.0.1:50051",
                       help="FlowMesh server endpoint, host:port")  # fmt: skip
    serve.add_argument("--flowmesh-connect-timeout", type=float, default=3.0,
                       help="seconds to wait for FlowMesh before answering 503")  # fmt: skip
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--tokens-file", default=None,
                       help=f"file of 'hash:org,org' entries (or {TOKENS_FILE_ENV})")  # fmt: skip
    hasher = commands.add_parser(
        "hash-token", help="print the SHA-256 of a token read from stdin (a MESH_TOKENS entry)"
    )
    hasher.add_argument("--orgs", help="print the whole entry, 'hash:ORGS' (comma-separated)")
    hasher.add_argument("--generate", action="store_true",
                        help="make a new random token; print it, then its entry")  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "hash-token":
        return _hash_token(args)

    try:
        import uvicorn  # noqa: F401 - serve_asgi's server, checked before anything starts

        from common_mesh.receiver import LayeredLedger, MemoryLedger, create_app
        from common_mesh.receiver.flowmesh_sink import FlowMeshLedger, FlowMeshSink
    except ImportError as exc:
        print(f"{RECEIVER_EXTRA_HINT} ({exc})", file=sys.stderr)
        return 2

    configure_logging(args.log_level)
    try:
        tokens = MeshTokens.from_environment(os.environ, args.tokens_file)
    except (OSError, ValueError) as exc:
        print(f"common-mesh: {exc}", file=sys.stderr)
        return 2
    if tokens.legacy:
        logging.getLogger("common_mesh.receiver").warning(
            "%s is deprecated: it may write to every org. Use %s with org-scoped, hashed "
            "entries ('common-mesh hash-token --orgs ORG')", TOKEN_ENV, TOKENS_ENV)  # fmt: skip
    # Tokens come from the environment, never the command line (ps shows argv).
    sink = FlowMeshSink(args.flowmesh, auth_token=os.environ.get("MESH_FLOWMESH_TOKEN"),
                        connect_timeout=args.flowmesh_connect_timeout)  # fmt: skip
    app = create_app(
        sink,
        ledger=LayeredLedger(MemoryLedger(), FlowMeshLedger(sink)),
        tokens=tokens,
    )
    serve_asgi(app, args.host, args.port)
    return 0


def _hash_token(args: argparse.Namespace) -> int:
    # The token comes from stdin (or is made here), never argv, which ps shows.
    if args.generate:
        token = secrets.token_urlsafe(32)
        print(token)
    else:
        # typed at a terminal: not echoed
        token = (getpass.getpass("token: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
        if not token:
            print("common-mesh hash-token: no token on stdin", file=sys.stderr)
            return 2
    digest = hash_token(token)
    print(f"{digest}:{args.orgs}" if args.orgs else digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
