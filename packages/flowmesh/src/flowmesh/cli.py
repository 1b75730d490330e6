"""The ``flowmesh`` command: ``serve`` plus a few admin commands built on the SDK.

::

    flowmesh serve --grpc-addr 127.0.0.1:50051 --http-addr 127.0.0.1:8080 \
        --store sqlite:///.mimeia/flowmesh.db [--require-auth]
    flowmesh token create --store URL --tenant T [--namespace N]... [--permission P]...
    flowmesh token list --store URL
    flowmesh token revoke --store URL TOKEN_ID
    flowmesh queue-stats TENANT NAMESPACE QUEUE
    flowmesh dlq-list TENANT NAMESPACE QUEUE [--limit N]
    flowmesh tail TENANT NAMESPACE STREAM [--partition P] [--from-start] [--count N]

Server options also come from ``FLOWMESH_GRPC_ADDR``, ``FLOWMESH_HTTP_ADDR``,
``FLOWMESH_STORE``, ``FLOWMESH_DATA_DIR``, ``FLOWMESH_LOG_LEVEL`` and
``FLOWMESH_REQUIRE_AUTH`` (a flag wins over its variable). Admin commands take
``--endpoint`` (default ``localhost:50051``) and a token from ``--token`` or
``FLOWMESH_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from flowmesh import token_cli
from flowmesh.client import FlowMesh
from flowmesh.exceptions import FlowMeshError
from flowmesh.server.defaults import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RESPONSE_BYTES,
    DEFAULT_STORE,
    TOKENS_ENV,
    parse_addr,
)

SERVER_EXTRA_HINT = "flowmesh serve needs the server extra: pip install 'mimeia-flowmesh[server]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowmesh", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    env = os.environ.get

    serve = sub.add_parser("serve", help="run the server (gRPC, and HTTP with --http-addr)")
    serve.add_argument("--host", default=None, help=f"gRPC host (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=None, help=f"gRPC port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--grpc-addr",
        default=env("FLOWMESH_GRPC_ADDR"),
        help="gRPC HOST:PORT (instead of --host/--port)",
    )
    serve.add_argument(
        "--http-addr",
        default=env("FLOWMESH_HTTP_ADDR"),
        help="serve the HTTP API and WebSocket on HOST:PORT",
    )
    serve.add_argument(
        "--store",
        default=env("FLOWMESH_STORE"),
        help=(
            "sqlite:///path.db, redis://host:port/db or redis+cluster://host:port"
            f" (default {DEFAULT_STORE})"
        ),
    )
    serve.add_argument(
        "--data-dir",
        default=env("FLOWMESH_DATA_DIR"),
        help="keep the SQLite store in DIR/flowmesh.db (when --store is not given)",
    )
    serve.add_argument("--require-auth", action="store_true",
                       default=env("FLOWMESH_REQUIRE_AUTH", "").lower() in ("1", "true", "yes"),
                       help="refuse every call without a valid token")  # fmt: skip
    serve.add_argument(
        "--tokens-file", help=f"token=tenant,tenant lines (default: ${TOKENS_ENV}, else open)"
    )
    serve.add_argument("--redis-prefix", default="", help="key prefix for the Redis store")
    serve.add_argument("--max-payload-bytes", type=int, default=1024 * 1024)
    serve.add_argument(
        "--max-response-bytes",
        type=int,
        default=DEFAULT_RESPONSE_BYTES,
        help="a read or subscribe frame stops adding messages before passing this many bytes",
    )
    serve.add_argument("--dedup-window", type=float, default=300.0, help="seconds")
    serve.add_argument(
        "--recheck-interval",
        type=float,
        default=2.0,
        help="seconds between fallback re-reads of idle subscriptions and long polls",
    )
    serve.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    serve.add_argument("--log-level", default=env("FLOWMESH_LOG_LEVEL", "info"))
    serve.add_argument("--log-format", choices=["json", "text"], default="json")

    def admin(name: str, help_text: str, resource: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("tenant")
        cmd.add_argument("namespace")
        cmd.add_argument(resource)
        cmd.add_argument("--endpoint", default=f"localhost:{DEFAULT_PORT}")
        cmd.add_argument("--token", default=os.environ.get("FLOWMESH_TOKEN"))
        cmd.add_argument("--connect-timeout", type=float, default=5.0, help="seconds")
        return cmd

    admin("queue-stats", "print a queue's statistics as JSON", "queue")
    dlq = admin("dlq-list", "list a queue's dead-lettered jobs as JSON lines", "queue")
    dlq.add_argument("--limit", type=int, default=100)
    tail = admin("tail", "print a stream's messages as JSON lines as they arrive", "stream")
    tail.add_argument("--partition", type=int, default=0)
    tail.add_argument("--from-start", action="store_true", help="start at offset 0")
    tail.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    token_cli.add_parser(sub, _store_default(env("FLOWMESH_STORE"), env("FLOWMESH_DATA_DIR")))
    return parser


def _store_default(store: str | None, data_dir: str | None) -> str:
    if store:
        return store
    if data_dir:
        return f"sqlite:///{os.path.abspath(os.path.join(data_dir, 'flowmesh.db'))}"
    return DEFAULT_STORE


def _grpc_addr(args: argparse.Namespace) -> tuple[str, int]:
    host, port = DEFAULT_HOST, DEFAULT_PORT
    if args.grpc_addr:
        host, port = parse_addr(args.grpc_addr, "--grpc-addr")
    if args.host is not None:
        host = args.host
    if args.port is not None:
        port = args.port
    return host, port


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


async def _admin(args: argparse.Namespace) -> int:
    client = FlowMesh(args.endpoint, args.token, connect_timeout=args.connect_timeout)
    async with client:
        if args.command == "queue-stats":
            stats = await client.queue.get_stats(args.tenant, args.namespace, args.queue)
            print(json.dumps(stats.model_dump()), flush=True)
        elif args.command == "dlq-list":
            jobs = await client.queue.list_dlq_jobs(
                args.tenant, args.namespace, args.queue, limit=args.limit
            )
            for job in jobs:
                print(json.dumps({**job.model_dump(mode="json", exclude={"payload"}),
                                  "payload": _text(job.payload)}), flush=True)  # fmt: skip
        else:
            seen = 0
            async for msg in client.stream.subscribe(
                args.tenant,
                args.namespace,
                args.stream,
                "flowmesh-cli-tail",
                partition=args.partition,
                start_offset=0 if args.from_start else -2,
            ):
                print(json.dumps({**msg.model_dump(mode="json", exclude={"payload"}),
                                  "payload": _text(msg.payload)}), flush=True)  # fmt: skip
                seen += 1
                if args.count and seen >= args.count:
                    break
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "token":
        return token_cli.main(args, SERVER_EXTRA_HINT)
    try:
        return asyncio.run(_admin(args))
    except FlowMeshError as exc:
        print(f"flowmesh {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    try:
        from redis.exceptions import RedisError

        from flowmesh.server import logs
        from flowmesh.server.app import ServerSettings, load_tokens, run_server
    except ImportError as exc:
        print(f"{SERVER_EXTRA_HINT} ({exc})", file=sys.stderr)
        return 2
    logs.configure(args.log_level, args.log_format)
    try:
        host, port = _grpc_addr(args)
        settings = ServerSettings(
            host=host,
            port=port,
            store_url=_store_default(args.store, args.data_dir),
            http_addr=parse_addr(args.http_addr, "--http-addr") if args.http_addr else None,
            require_auth=args.require_auth,
            tokens=load_tokens(args.tokens_file),
            max_payload_bytes=args.max_payload_bytes,
            max_response_bytes=args.max_response_bytes,
            dedup_window_ms=int(args.dedup_window * 1000),
            recheck_seconds=args.recheck_interval,
            metrics_port=args.metrics_port,
            redis_prefix=args.redis_prefix,
        )
    except (OSError, ValueError) as exc:
        print(f"flowmesh serve: {exc}", file=sys.stderr)
        return 2
    try:
        run_server(settings)
    except (OSError, ValueError, RedisError) as exc:
        print(f"flowmesh serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0
