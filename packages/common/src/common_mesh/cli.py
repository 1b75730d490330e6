"""``common-mesh serve``: the mesh receiver in front of a FlowMesh server."""

from __future__ import annotations

import argparse
import os
import sys

from common_core.log_manager import configure_logging
from common_core.serving import serve_asgi
from common_mesh.protocol import DEFAULT_PORT

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
    args = parser.parse_args(argv)

    try:
        import uvicorn  # noqa: F401 - serve_asgi's server, checked before anything starts

        from common_mesh.receiver import LayeredLedger, MemoryLedger, create_app
        from common_mesh.receiver.flowmesh_sink import FlowMeshLedger, FlowMeshSink
    except ImportError as exc:
        print(f"{RECEIVER_EXTRA_HINT} ({exc})", file=sys.stderr)
        return 2

    configure_logging(args.log_level)
    # Tokens come from the environment, never the command line (ps shows argv).
    sink = FlowMeshSink(args.flowmesh, auth_token=os.environ.get("MESH_FLOWMESH_TOKEN"),
                        connect_timeout=args.flowmesh_connect_timeout)  # fmt: skip
    app = create_app(
        sink,
        ledger=LayeredLedger(MemoryLedger(), FlowMeshLedger(sink)),
        token=os.environ.get("MESH_TOKEN") or None,
    )
    serve_asgi(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
