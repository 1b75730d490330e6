"""Charts: throughput, latency and error rate of the automation API, workflow executions,
deliveries (webhook attempts, notifications) and FlowMesh, from the services' Prometheus
metrics as the console samples them.

Every series is computed from the increase between two consecutive samples: counters
become rates, ``_sum``/``_count`` pairs mean latencies, histogram buckets p95s. The
execution, webhook and notification figures are the automation service's database
gauges (row counts and summed durations by status), so they count the work of every
Celery worker, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.metrics import Sampler
from mimeia_console.svg import sparkline
from mimeia_console.web import console, render, tenant

FINAL = ("succeeded", "failed", "cancelled")  # an execution's terminal statuses
# FlowMesh operations that write and that read (gRPC method names; HTTP ones are "http." + name)
WRITES = ("stream.write", "queue.enqueue", "queue.enqueue_batch", "kv.set", "kv.delete")
READS = (
    "stream.read",
    "stream.subscribe",
    "queue.reserve",
    "queue.receive",
    "kv.get",
    "kv.exists",
    "kv.list_keys",
)


def has(labels: str, *pairs: str) -> bool:
    """Whether a series' labels ("k=v,k=v", sorted) include every ``k=v`` exactly."""
    present = set(labels.split(","))
    return all(pair in present for pair in pairs)


def has_all(labels: str, pairs: tuple[str, ...]) -> bool:
    return has(labels, *pairs)


def label_in(labels: str, key: str, values: tuple[str, ...]) -> bool:
    """Whether the series' ``key`` label is one of ``values``."""
    return any(f"{key}={v}" in labels.split(",") for v in values)


def method_in(labels: str, methods: tuple[str, ...]) -> bool:
    for pair in labels.split(","):
        if pair.startswith("method="):
            name = pair[len("method=") :]
            return name.removeprefix("http.") in methods
    return False


def method_failed(labels: str, methods: tuple[str, ...]) -> bool:
    return method_in(labels, methods) and "code=OK" not in labels.split(",")


def _server_error(labels: str) -> bool:
    return "status=5" in labels


def _triple(
    s: Sampler,
    target: str,
    label: str,
    count: str,
    seconds: str,
    counted: Callable[[str], bool],
    failed: Callable[[str], bool],
) -> list[Markup]:
    """Throughput, mean latency and error share of one database-gauge pair."""
    return [
        sparkline(s.rate(target, count, counted), f"{label} per second", "/s"),
        sparkline(
            s.ratio(target, seconds, count, 1000, num_where=counted, den_where=counted),
            f"{label}: mean time",
            "ms",
        ),
        sparkline(
            s.ratio(target, count, count, 100, num_where=failed, den_where=counted),
            f"{label}: share failed",
            "%",
        ),
    ]


def automation_charts(s: Sampler) -> tuple[list[Markup], list[Markup], list[Markup]]:
    api = [
        sparkline(s.rate("automation", "automation_http_requests_total"), "API requests", "/s"),
        sparkline(
            s.ratio(
                "automation",
                "automation_http_request_duration_seconds_sum",
                "automation_http_request_duration_seconds_count",
                1000,
            ),
            "API mean latency",
            "ms",
        ),
        sparkline(
            s.histogram_quantile(
                "automation", "automation_http_request_duration_seconds", 0.95, 1000
            ),
            "API p95 latency",
            "ms",
        ),
        sparkline(
            s.ratio(
                "automation",
                "automation_http_requests_total",
                "automation_http_requests_total",
                100,
                num_where=_server_error,
            ),
            "API errors (5xx)",
            "%",
        ),
    ]
    final = partial(label_in, key="status", values=FINAL)
    executions = [
        sparkline(
            s.rate("automation", "automation_workflow_executions"), "Executions created", "/s"
        ),
        *_triple(
            s,
            "automation",
            "Executions finished",
            "automation_workflow_executions",
            "automation_workflow_execution_seconds",
            final,
            partial(label_in, key="status", values=("failed",)),
        ),
        sparkline(
            s.gauge(
                "automation",
                "automation_workflow_executions",
                partial(label_in, key="status", values=("running",)),
            ),
            "Executions running",
            "",
        ),
    ]
    sent_or_failed = partial(label_in, key="status", values=("sent", "failed"))
    deliveries = [
        *_triple(
            s,
            "automation",
            "Webhook attempts",
            "automation_webhook_attempts",
            "automation_webhook_attempt_seconds",
            lambda _: True,
            lambda labels: "verdict=delivered" not in labels.split(","),
        ),
        *_triple(
            s,
            "automation",
            "Notifications",
            "automation_notifications",
            "automation_notification_seconds",
            sent_or_failed,
            partial(label_in, key="status", values=("failed",)),
        ),
    ]
    return api, executions, deliveries


def flowmesh_charts(s: Sampler, mine: str) -> list[Markup]:
    mesh = []
    for title, methods in (("writes", WRITES), ("reads", READS)):
        ops = partial(method_in, methods=methods)
        mesh += [
            sparkline(
                s.rate("flowmesh", "flowmesh_requests_total", ops), f"FlowMesh {title}", "/s"
            ),
            sparkline(
                s.histogram_quantile("flowmesh", "flowmesh_request_seconds", 0.95, 1000, ops),
                f"FlowMesh {title} p95 latency",
                "ms",
            ),
            sparkline(
                s.ratio(
                    "flowmesh",
                    "flowmesh_requests_total",
                    "flowmesh_requests_total",
                    100,
                    num_where=partial(method_failed, methods=methods),
                    den_where=ops,
                ),
                f"FlowMesh {title} failed",
                "%",
            ),
        ]
    mesh.append(
        sparkline(s.rate("flowmesh", "flowmesh_requests_total"), "FlowMesh calls (all)", "/s")
    )
    # the tenant's own queues and consumer groups (these series carry the tenant)
    for state, label in (
        ("pending", "Queued jobs pending"),
        ("in_flight", "Jobs in flight"),
        ("dlq", "Jobs in DLQs"),
    ):
        wanted = (mine, f"state={state}")
        series = s.gauge("flowmesh", "flowmesh_queue_jobs", partial(has_all, pairs=wanted))
        mesh.append(sparkline(series, label, ""))
    mesh.append(
        sparkline(
            s.gauge("flowmesh", "flowmesh_stream_lag", lambda labels: has(labels, mine)),
            "Consumer lag",
            "messages",
        )
    )
    return mesh


async def charts(request: Request) -> Response:
    s = console(request).sampler
    api, executions, deliveries = automation_charts(s)
    mesh = flowmesh_charts(s, f"tenant={tenant(request)}") if "flowmesh" in s.targets else []
    return render(
        request,
        "charts.html",
        api=api,
        executions=executions,
        deliveries=deliveries,
        mesh=mesh,
        problems=s.problems,
        interval=s.interval,
        sampled=len(s.samples.get("automation", ())),
    )


ROUTES = [Route("/charts", charts, methods=["GET"])]
