"""Regenerate the committed Python code from ``flowmesh.proto``.

Run ``python -m flowmesh.proto.generate`` after editing the ``.proto``; the test
suite fails while the committed code is stale. Needs ``grpcio-tools`` (a dev
dependency of the workspace).
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
SRC_ROOT = PROTO_DIR.parent.parent  # the directory holding the `flowmesh` package
PROTO_FILE = PROTO_DIR / "flowmesh.proto"
GENERATED = ("flowmesh_pb2.py", "flowmesh_pb2.pyi", "flowmesh_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Write the generated modules under ``out_root/flowmesh/proto/``; return their paths."""
    from grpc_tools import protoc  # dev-only dependency, so imported here

    target = out_root / "flowmesh" / "proto"
    target.mkdir(parents=True, exist_ok=True)
    rel = PROTO_FILE.relative_to(SRC_ROOT)
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={SRC_ROOT}",
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
            f"--grpc_python_out={out_root}",
            str(rel),
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    return [target / name for name in GENERATED]


def main() -> int:
    for path in generate(SRC_ROOT):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
