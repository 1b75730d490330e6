"""Inline SVG drawings: a workflow's step graph, an execution's timeline, small charts.

Everything returns markup built from escaped text only (``markupsafe.escape``),
so a step id or a label can never inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

STATUS_COLORS = {
    "succeeded": "#1a7f37",
    "completed": "#1a7f37",
    "failed": "#cf222e",
    "running": "#0969da",
    "pending": "#8c959f",
    "waiting": "#bf8700",
    "skipped": "#d0d7de",
    "cancelled": "#6e7781",
}


@dataclass
class Node:
    id: str
    label: str
    kind: str
    depends_on: list[str]
    branches: dict[str, list[str]]  # "then"/"else" -> step ids (condition steps)
    status: str = ""


def nodes_from_steps(steps: Sequence[dict[str, Any]], statuses: dict[str, str]) -> list[Node]:
    """The workflow's steps as graph nodes. A step without ``depends_on`` follows the one
    before it (the engine's rule), ``[]`` means it starts right away."""
    nodes: list[Node] = []
    previous: str | None = None
    for step in steps:
        sid = str(step.get("id", ""))
        deps = step.get("depends_on")
        if deps is None:
            deps = [previous] if previous is not None else []
        config = step.get("config") or {}
        branches = {
            k: [str(x) for x in config.get(k, [])]
            for k in ("then", "else")
            if isinstance(config.get(k), list)
        }
        nodes.append(
            Node(
                sid,
                str(step.get("name") or sid),
                str(step.get("type", "")),
                [str(d) for d in deps],
                branches,
                statuses.get(sid, ""),
            )
        )
        previous = sid
    return nodes


def _levels(nodes: list[Node]) -> dict[str, int]:
    by_id = {n.id: n for n in nodes}
    level: dict[str, int] = {}

    def depth(node: Node, seen: frozenset[str]) -> int:
        if node.id in level:
            return level[node.id]
        parents = [by_id[d] for d in node.depends_on if d in by_id and d not in seen]
        value = 1 + max((depth(p, seen | {node.id}) for p in parents), default=-1)
        level[node.id] = value
        return value

    for node in nodes:
        depth(node, frozenset())
    return level


def workflow_graph(nodes: list[Node]) -> Markup:
    """Steps left to right by dependency depth; parallel steps stack in a column.
    Edges: solid for dependencies, dashed and labelled for a condition's branches."""
    if not nodes:
        return Markup("<p>No steps.</p>")
    level = _levels(nodes)
    columns: dict[int, list[Node]] = {}
    for node in nodes:
        columns.setdefault(level[node.id], []).append(node)
    w, h, gap_x, gap_y, pad = 200, 54, 50, 24, 12
    pos: dict[str, tuple[int, int]] = {}
    for col, members in columns.items():
        for row, node in enumerate(members):
            pos[node.id] = (pad + col * (w + gap_x), pad + row * (h + gap_y))
    width = pad * 2 + (max(columns) + 1) * (w + gap_x) - gap_x
    height = pad * 2 + max(len(m) for m in columns.values()) * (h + gap_y) - gap_y
    parts = [
        f'<svg class="graph" role="img" aria-label="workflow steps graph" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#57606a"/></marker></defs>',
    ]
    for node in nodes:
        x2, y2 = pos[node.id]
        for dep in node.depends_on:
            if dep in pos:
                x1, y1 = pos[dep]
                parts.append(_edge(x1 + w, y1 + h // 2, x2, y2 + h // 2, "", dashed=False))
        for branch, targets in node.branches.items():
            x1, y1 = pos[node.id]
            for target in targets:
                if target in pos:
                    tx, ty = pos[target]
                    parts.append(_edge(x1 + w // 2, y1 + h, tx + w // 2, ty, branch, dashed=True))
    for node in nodes:
        x, y = pos[node.id]
        color = STATUS_COLORS.get(node.status, "#57606a")
        title = f"{node.id} ({node.kind})" + (f": {node.status}" if node.status else "")
        parts.append(
            f'<g class="node"><title>{escape(title)}</title>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="#fff" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<text x="{x + 10}" y="{y + 22}" font-weight="600">'
            f"{escape(_cut(node.label, 20))}</text>"
            f'<text x="{x + 10}" y="{y + 42}" fill="#57606a">{escape(_cut(node.kind, 14))}'
            f"{(' · ' + escape(node.status)) if node.status else ''}</text></g>"
        )
    parts.append("</svg>")
    return Markup(  # noqa: S704 (built from escape()d text and numbers)
        "".join(parts)
    )


def _edge(x1: int, y1: int, x2: int, y2: int, label: str, dashed: bool) -> str:
    mid = (x1 + x2) // 2
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
    text = (
        f'<text x="{mid + 4}" y="{(y1 + y2) // 2 - 4}" fill="#57606a">{escape(label)}</text>'
        if label
        else ""
    )
    return f'<path d="{path}" fill="none" stroke="#57606a"{dash} marker-end="url(#arrow)"/>{text}'


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def timeline(steps: Sequence[dict[str, Any]]) -> Markup:
    """A bar per step run from its start to its end (or now), on one time axis."""
    spans = [(s, _ts(s.get("started_at")), _ts(s.get("finished_at"))) for s in steps]
    starts = [a for _, a, _ in spans if a]
    if not starts:
        return Markup("<p>No step has started yet.</p>")
    t0 = min(starts)
    ends = [b or a for _, a, b in spans if a]
    total = max((e - t0).total_seconds() for e in ends if e) or 0.001
    row, label_w, bar_w = 26, 190, 460
    height = row * len(spans) + 24
    parts = [
        f'<svg class="timeline" role="img" aria-label="step timeline" '
        f'viewBox="0 0 {label_w + bar_w + 90} {height}" width="{label_w + bar_w + 90}" '
        f'height="{height}">'
    ]
    for i, (step, start, end) in enumerate(spans):
        y = i * row + 4
        status = str(step.get("status", ""))
        color = STATUS_COLORS.get(status, "#8c959f")
        sid = str(step.get("step_id", ""))
        attempts = int(step.get("attempts") or 0)
        label = f"{sid}" + (f" x{attempts}" if attempts > 1 else "")
        parts.append(f'<text x="0" y="{y + 15}">{escape(_cut(label, 26))}</text>')
        if start is None:
            parts.append(f'<text x="{label_w}" y="{y + 15}" fill="#57606a">{escape(status)}</text>')
            continue
        x = label_w + (start - t0).total_seconds() / total * bar_w
        dur = ((end or start) - start).total_seconds()
        width = max(3.0, dur / total * bar_w)
        tip = f"{sid}: {status}, {dur * 1000:.0f} ms, {attempts} attempt(s)"
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="16" rx="3" '
            f'fill="{color}"><title>{escape(tip)}</title></rect>'
            f'<text x="{x + width + 6:.1f}" y="{y + 15}" fill="#57606a">{dur * 1000:.0f} ms</text>'
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 4}" fill="#57606a">0</text>'
        f'<text x="{label_w + bar_w - 40}" y="{height - 4}" fill="#57606a">'
        f"{total * 1000:.0f} ms</text></svg>"
    )
    return Markup(  # noqa: S704 (built from escape()d text and numbers)
        "".join(parts)
    )


def sparkline(points: Sequence[tuple[float, float]], label: str, unit: str) -> Markup:
    """A small line chart with its last value and maximum."""
    w, h = 260, 60
    if len(points) < 2:
        return Markup(  # noqa: S704 (built from escape()d text and numbers)
            f'<figure class="chart"><figcaption>{escape(label)}</figcaption>'
            f'<p class="muted">collecting samples…</p></figure>'
        )
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = xs[0], xs[-1] if xs[-1] > xs[0] else xs[0] + 1
    top = max(ys) or 1.0
    coords = " ".join(
        f"{(x - x0) / (x1 - x0) * w:.1f},{h - y / top * (h - 4) - 2:.1f}" for x, y in points
    )
    return Markup(  # noqa: S704 (built from escape()d text and numbers)
        f'<figure class="chart"><figcaption>{escape(label)}: <b>{ys[-1]:.3g}</b> {escape(unit)}'
        f' <span class="muted">(max {top:.3g})</span></figcaption>'
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {w} {h}" width="{w}" '
        f'height="{h}"><polyline fill="none" stroke="#0969da" stroke-width="1.5" '
        f'points="{coords}"/></svg></figure>'
    )
