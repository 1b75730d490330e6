"""Inline SVG drawings: a workflow's step graph, an execution's timeline, small charts.

Everything returns markup built from escaped text only (``markupsafe.escape``),
so a step id or a label can never inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


def _fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    if ms < 10_000:
        return f"{ms:.0f} ms"
    if seconds < 600:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _clock(moment: datetime) -> str:
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%H:%M:%S")


OPEN_STATUSES = ("running", "waiting", "pending")


def timeline(
    steps: Sequence[dict[str, Any]],
    now: datetime | None = None,
    resume_at: Any = None,
) -> Markup:
    """A bar per step run from its start to its end, on one time axis.

    A step still running or waiting has no end yet: its bar runs to ``now``. A
    parked step (a ``delay`` or the pause before a retry, ``next_attempt_at``,
    else the execution's ``resume_at``) gets a hatched segment up to the moment it
    goes on; a step tried more than once is labelled with its attempt count and,
    when a retry is due, when. Every bar carries a ``<title>`` saying all of it."""
    now = now or datetime.now(UTC)
    parked_until = _ts(resume_at)
    rows = []
    for step in steps:
        start = _ts(step.get("started_at"))
        end = _ts(step.get("finished_at"))
        status = str(step.get("status", ""))
        wait_until = _ts(step.get("next_attempt_at"))
        if status == "waiting" and wait_until is None:
            wait_until = parked_until
        if start is not None and end is None and status in OPEN_STATUSES:
            end = max(now, start)
        rows.append((step, status, start, end, wait_until if status == "waiting" else None))
    starts = [r[2] for r in rows if r[2] is not None]
    if not starts:
        return Markup("<p>No step has started yet.</p>")
    t0 = min(starts)
    moments = [m for r in rows for m in (r[2], r[3], r[4]) if m is not None]
    total = max((m - t0).total_seconds() for m in moments) or 0.001
    live = any(r[1] in OPEN_STATUSES and r[2] is not None for r in rows)
    row, label_w, bar_w, tail = 26, 190, 460, 170
    height = row * len(rows) + 24
    width_all = label_w + bar_w + tail

    def at(moment: datetime) -> float:
        return label_w + (moment - t0).total_seconds() / total * bar_w

    parts = [
        f'<svg class="timeline" role="img" aria-label="step timeline" '
        f'viewBox="0 0 {width_all} {height}" width="{width_all}" height="{height}">',
        '<defs><pattern id="wait-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff8c5"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#bf8700" stroke-width="3"/></pattern></defs>',
    ]
    for i, (step, status, start, end, wait_until) in enumerate(rows):
        y = i * row + 4
        color = STATUS_COLORS.get(status, "#8c959f")
        sid = str(step.get("step_id", ""))
        kind = str(step.get("type", ""))
        attempts = int(step.get("attempts") or 0)
        label = sid + (f" x{attempts}" if attempts > 1 else "")
        parts.append(f'<text x="0" y="{y + 15}">{escape(_cut(label, 26))}</text>')
        if start is None:
            parts.append(f'<text x="{label_w}" y="{y + 15}" fill="#57606a">{escape(status)}</text>')
            continue
        x = at(start)
        dur = ((end or start) - start).total_seconds()
        width = max(3.0, dur / total * bar_w)
        tip = [f"{sid} ({kind}): {status}" if kind else f"{sid}: {status}",
               f"{_fmt_ms(dur)}" + (" so far" if status in OPEN_STATUSES else ""),
               f"{attempts} attempt(s)"]  # fmt: skip
        note = _fmt_ms(dur)
        wait_part = ""
        if wait_until is not None:
            retry = kind != "delay" and (attempts >= 1 and bool(step.get("error")))
            if retry:
                what = f"retry (attempt {attempts + 1}) at {_clock(wait_until)} UTC"
                # the pause starts after the last failed attempt; its start is unknown,
                # so the hatch covers from now to the retry
                w_from = min(max(now, start), wait_until)
            else:
                what = f"waits until {_clock(wait_until)} UTC"
                w_from = start
            tip.append(what)
            note = what
            wx = at(w_from)
            ww = max(3.0, at(wait_until) - wx)
            wait_part = (
                f'<rect class="wait" x="{wx:.1f}" y="{y + 3}" width="{ww:.1f}" height="16" '
                f'fill="url(#wait-hatch)" stroke="#bf8700" stroke-width="1">'
                f"<title>{escape(sid + ': ' + what)}</title></rect>"
            )
        elif attempts > 1:
            note = f"{_fmt_ms(dur)}, {attempts} attempts"
        if step.get("error"):
            tip.append(f"last error: {_cut(str(step.get('error')), 200)}")
        parts.append(
            f'<g class="bar" data-status="{escape(status)}"><title>{escape("; ".join(tip))}</title>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="16" rx="3" '
            f'fill="{color}"/>'
        )
        # one tick per attempt at the bar's start (the API keeps no per-attempt times)
        for k in range(1, attempts if attempts > 1 else 0):
            tx = x + 2 + 3 * k
            if tx < x + width:
                parts.append(
                    f'<line class="attempt" x1="{tx:.1f}" y1="{y + 3}" x2="{tx:.1f}" '
                    f'y2="{y + 19}" stroke="#fff" stroke-width="1"/>'
                )
        parts.append(wait_part)
        right = max(x + width, at(wait_until) if wait_until else 0.0)
        parts.append(
            f'<text x="{right + 6:.1f}" y="{y + 15}" fill="#57606a">'
            f"{escape(_cut(note, 30))}</text></g>"
        )
    if live:
        nx = at(now)
        parts.append(
            f'<line class="now" x1="{nx:.1f}" y1="0" x2="{nx:.1f}" y2="{height - 18}" '
            f'stroke="#0969da" stroke-dasharray="3 3"><title>now</title></line>'
        )
    parts.append(
        f'<text x="{label_w}" y="{height - 4}" fill="#57606a">0</text>'
        f'<text x="{label_w + bar_w - 40}" y="{height - 4}" fill="#57606a">'
        f"{escape(_fmt_ms(total))}</text></svg>"
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
