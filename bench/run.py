"""List the benchmarks, or run one: `uv run python bench/run.py [NAME] [ARGS...]`.

Convention: every `bench/<name>.py` (not starting with `_`) is one benchmark.
It runs with one command, measures our code and an anchor (the plain tool a
user would otherwise reach for) in the same run, and prints its result last:
a final line starting with `ratio:`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> dict[str, str]:
    """Name -> first line of the module docstring."""
    found = {}
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_") or path.name == "run.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found[path.stem] = doc.strip().splitlines()[0] if doc.strip() else ""
    return found


def main(argv: list[str]) -> int:
    found = benchmarks()
    if not argv or argv[0] in {"-h", "--help", "list"}:
        print(__doc__)
        for name, summary in found.items():
            print(f"  {name:<24} {summary}")
        if not found:
            print("  (no benchmarks yet)")
        return 0
    name, *rest = argv
    if name not in found:
        print(f"unknown benchmark {name!r}; known: {', '.join(found) or 'none'}", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(HERE / f"{name}.py"), *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
