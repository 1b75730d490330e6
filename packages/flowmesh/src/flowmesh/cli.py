"""The ``flowmesh`` command: ``serve`` plus a few admin commands built on the SDK.

::

    flowmesh serve --host 127.0.0.1 --port 50051 --store sqlite:///.mimeia/flowmesh.db
    flowmesh queue-stats TENANT NAMESPACE QUEUE
    flowmesh dlq-list TENANT NAMESPACE QUEUE [--limit N]
    flowmesh tail TENANT NAMESPACE STREAM [--partition P] [--from-start] [--count N]

Admin commands take ``--endpoint`` (default ``localhost:50051``) and a token
from ``--token`` or ``FLOWMESH_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from flowmesh.client import FlowMesh
from flowmesh.exceptions import FlowMeshError
from flowmesh.server.defaults import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RESPONSE_BYTES,
    DEFAULT_STORE,
    TOKENS_ENV,
)

SERVER_EXTRA_HINT = "flowmesh serve needs the server extra: pip install 'mimeia-flowmesh[server]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowmesh", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC server")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--store", default=DEFAULT_STORE, help="sqlite:///path.db or redis://host:port/db"
    )
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
    serve.add_argument("--log-level", default="info")
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
    return parser


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
        settings = ServerSettings(
            host=args.host,
            port=args.port,
            store_url=args.store,
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
