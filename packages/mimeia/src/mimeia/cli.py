"""Command line: `mimeia up` and `mimeia doctor`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mimeia import doctor, supervisor
from mimeia.services import discover_services


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimeia", description="Run the mimeiapify platform locally and check its services."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser(
        "up",
        help="start every platform service on embedded defaults",
        description="Start every service of the platform that is installed, on embedded "
        "defaults (no external server needed), print each address, and stop them all "
        "on Ctrl-C, SIGTERM or SIGHUP (a second Ctrl-C kills them). Exits 0 after a "
        "stop on a signal, 1 when a service failed, 130 when a second Ctrl-C killed. "
        "Ports can be moved with MIMEIA_<SERVICE>_PORT.",
    )
    up.add_argument(
        "--state-dir",
        default=os.environ.get("MIMEIA_STATE_DIR", ".mimeia"),
        help="where services keep their files (default: ./.mimeia or $MIMEIA_STATE_DIR)",
    )

    doc = sub.add_parser(
        "doctor",
        help="report whether Redis, PostgreSQL and our servers answer",
        description="For each server the platform uses (Redis, PostgreSQL and its own "
        "services) report whether it answers and where its address came from. Exits 1 "
        "when anything is down.",
    )
    doc.add_argument(
        "--start-missing",
        action="store_true",
        help="start (or apt-get install) a local Redis or PostgreSQL that does not answer",
    )
    doc.add_argument(
        "--only", default="", help="comma-separated names to check, e.g. redis,postgres"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        return supervisor.run_until_signal(discover_services(), Path(args.state_dir))
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    checks = doctor.run(only, start_missing=args.start_missing)
    print(doctor.render(checks), flush=True)
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
