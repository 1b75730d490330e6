"""``flowmesh token create|list|revoke``: access tokens, straight in the store.

A running server picks changes up within about a second (it re-reads the
tokens), so a revoked token stops working, open subscriptions included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from flowmesh.server.errors import InvalidArgument
from flowmesh.server.tokens import PERMISSIONS, new_token, token_id_of


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], store_default: str
) -> None:
    token = sub.add_parser("token", help="create, list and revoke access tokens")
    actions = token.add_subparsers(dest="action", required=True)

    def with_store(cmd: argparse.ArgumentParser) -> argparse.ArgumentParser:
        cmd.add_argument(
            "--store",
            default=store_default,
            help="the server's store: sqlite:///path.db or redis://host:port/db",
        )
        cmd.add_argument("--redis-prefix", default="", help="key prefix for the Redis store")
        return cmd  # fmt: skip

    create = with_store(actions.add_parser("create", help="create a token; prints it once"))
    create.add_argument("--tenant", required=True)
    create.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="allow this namespace (repeat; none: every namespace)",
    )
    create.add_argument(
        "--permission",
        action="append",
        default=[],
        help=f"one of {', '.join(PERMISSIONS)} (repeat; none: '*')",
    )
    create.add_argument(
        "--expires-in", type=float, default=0, help="seconds until it expires (0: never)"
    )
    create.add_argument("--description", default="")  # fmt: skip
    with_store(actions.add_parser("list", help="list tokens as JSON lines (never the token)"))
    revoke = with_store(actions.add_parser("revoke", help="revoke a token by id (or the token)"))
    revoke.add_argument("token_id")


async def _run(args: argparse.Namespace) -> int:
    from flowmesh.server.app import open_store  # the server extra (store drivers)

    store = open_store(args.store, args.redis_prefix)
    await store.open()
    try:
        if args.action == "create":
            token, record = new_token(args.tenant, args.namespace, args.permission,
                                      args.expires_in, args.description)  # fmt: skip
            await store.token_put(record)
            print(f"created token {record.token_id} for tenant {record.tenant!r}; it is shown "
                  "only now, keep it secret", file=sys.stderr)  # fmt: skip
            print(token, flush=True)
            return 0
        records = await store.token_list()
        if args.action == "list":
            now = int(time.time() * 1000)
            for r in records:
                state = ("revoked" if r.revoked_at_ms else "expired" if r.expired(now)
                         else "active")  # fmt: skip
                print(json.dumps({**r.public(), "state": state}), flush=True)
            return 0
        wanted = token_id_of(args.token_id) or args.token_id
        for r in records:
            if r.token_id == wanted:
                if not r.revoked_at_ms:
                    from dataclasses import replace

                    await store.token_put(replace(r, revoked_at_ms=int(time.time() * 1000)))
                print(f"revoked token {r.token_id}", flush=True)
                return 0
        print(f"flowmesh token revoke: token_id: no token {wanted!r}", file=sys.stderr)
        return 1
    finally:
        await store.close()


def main(args: argparse.Namespace, extra_hint: str = "") -> int:
    try:
        return asyncio.run(_run(args))
    except ImportError as exc:
        print(f"{extra_hint or 'install the server extra'} ({exc})", file=sys.stderr)
        return 2
    except InvalidArgument as exc:
        print(f"flowmesh token {args.action}: {exc.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"flowmesh token {args.action}: {exc}", file=sys.stderr)
        return 2
