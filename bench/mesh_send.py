"""common_mesh send_all_models vs a plain loop POSTing each model's JSON.

Both send to the same local mesh receiver (`common-mesh serve`) in front of a
real FlowMesh server (SQLite store), each from its own child process so the
sender's peak memory (ru_maxrss) can be read. Ours streams a generator of
small pydantic models through `MeshEngine.send_all_models` (gzip batches);
the anchor is the loop people write first: `httpx.Client.post` of each
model's JSON, uncompressed, one request per model.

    uv run python bench/mesh_send.py                  # 1,000,000 models
    uv run python bench/mesh_send.py --count 100000   # quicker

The anchor is timed on `--anchor-count` models (default 1,000) and compared by
rate: with one request per model every model costs a FlowMesh write (an fsync
on the SQLite store), so a million of them would take hours.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import line, ratio


class Reading(BaseModel):
    id: int
    sensor: str
    value: float
    unit: str
    ok: bool


def readings(count: int) -> Any:
    for i in range(count):
        yield Reading(id=i, sensor=f"sensor-{i % 97}", value=i * 0.25, unit="celsius",
                      ok=i % 13 != 0)  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def send_ours(url: str, org: str, count: int, out: Any) -> None:
    from common_mesh import MeshEngine

    started = time.perf_counter()
    with MeshEngine(base_url=url) as engine:
        summary = engine.create_session(org, "bench", "readings").send_all_models(readings(count))
    seconds = time.perf_counter() - started
    out.put({"models": summary.models, "seconds": seconds, "raw": summary.raw_bytes,
             "sent": summary.compressed_bytes, "batches": summary.batches,
             "rss": peak_rss_mb()})  # fmt: skip


def send_anchor(url: str, org: str, count: int, out: Any) -> None:
    import httpx

    path = f"{url}/v1/streams/{org}/bench/readings/batches"
    started = time.perf_counter()
    raw = 0
    with httpx.Client(timeout=30) as client:
        for model in readings(count):
            body = model.model_dump_json().encode() + b"\n"
            raw += len(body)
            headers = {"Content-Type": "application/x-ndjson", "X-Mesh-Batch-Id": uuid.uuid4().hex}
            response = client.post(path, content=body, headers=headers)
            response.raise_for_status()
    seconds = time.perf_counter() - started
    out.put({"models": count, "seconds": seconds, "raw": raw, "sent": raw, "batches": count,
             "rss": peak_rss_mb()})  # fmt: skip


def run_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=target, args=(*args, out))
    child.start()
    result: dict[str, Any] = out.get()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"{target.__name__} exited with {child.exitcode}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--anchor-count", type=int, default=1_000)
    args = parser.parse_args()

    from common_mesh.testing import run_flowmesh, run_receiver

    with tempfile.TemporaryDirectory() as folder, run_flowmesh(Path(folder)) as flowmesh, \
            run_receiver(flowmesh) as url:  # fmt: skip
        ours = run_child(send_ours, url, f"ours-{uuid.uuid4().hex[:6]}", args.count)
        anchor_count = min(args.count, args.anchor_count)
        anchor = run_child(send_anchor, url, f"anchor-{uuid.uuid4().hex[:6]}", anchor_count)

    ours_rate = ours["models"] / ours["seconds"]
    anchor_rate = anchor["models"] / anchor["seconds"]
    print(f"ours:   {ours['models']:,} models in {ours['seconds']:.1f}s, {ours['batches']} batches")
    line("ours models/s (send_all_models, gzip)", ours_rate, "models/s")
    line("ours compression ratio", ours["raw"] / ours["sent"], "x")
    line("ours bytes on the wire", ours["sent"] / 1e6, "MB")
    line("ours sender peak RSS", ours["rss"], "MB")
    print(f"anchor: {anchor['models']:,} models in {anchor['seconds']:.1f}s, one POST each")
    line("anchor models/s (POST per model)", anchor_rate, "models/s")
    line("anchor bytes on the wire (bodies)", anchor["sent"] / 1e6, "MB")
    line("anchor sender peak RSS", anchor["rss"], "MB")
    memory_ok = "ok" if ours["rss"] < 150 else "OVER"
    print(f"peak memory target < 150 MB: {memory_ok}", flush=True)
    ratio("throughput send_all_models vs POST-per-model", ours_rate, anchor_rate,
          target=">= 1.0, sender peak < 150 MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
