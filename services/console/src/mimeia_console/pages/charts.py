"""Charts: throughput, latency and error rate of the automation API, workflow executions,
deliveries and FlowMesh, from the services' Prometheus metrics as the console samples them."""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimeia_console.svg import sparkline
from mimeia_console.web import console, render, tenant


def has(labels: str, *pairs: str) -> bool:
    """Whether a series' labels ("k=v,k=v", sorted) include every ``k=v`` exactly."""
    present = set(labels.split(","))
    return all(pair in present for pair in pairs)


def has_all(labels: str, pairs: tuple[str, ...]) -> bool:
    return has(labels, *pairs)


def _server_error(labels: str) -> bool:
    return "status=5" in labels


async def charts(request: Request) -> Response:
    s = console(request).sampler
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
    work = [
        sparkline(
            s.gauge(
                "automation",
                "automation_workflow_executions",
                lambda labels: "status=running" in labels,
            ),
            "Executions running",
            "",
        ),
        sparkline(
            s.rate("automation", "automation_workflow_executions"), "Executions created", "/s"
        ),
        sparkline(
            s.gauge(
                "automation",
                "automation_workflow_executions",
                lambda labels: "status=failed" in labels,
            ),
            "Executions failed",
            "",
        ),
        sparkline(
            s.rate(
                "automation", "automation_celery_tasks_total", lambda labels: "webhook" in labels
            ),
            "Webhook deliveries",
            "/s",
        ),
        sparkline(
            s.rate(
                "automation",
                "automation_celery_tasks_total",
                lambda labels: "webhook" in labels and "outcome=failure" in labels,
            ),
            "Webhook delivery failures",
            "/s",
        ),
        sparkline(
            s.rate(
                "automation",
                "automation_celery_tasks_total",
                lambda labels: "notification" in labels,
            ),
            "Notifications sent",
            "/s",
        ),
    ]
    mesh = []
    if "flowmesh" in s.targets:
        mesh = [
            sparkline(s.rate("flowmesh", "flowmesh_requests_total"), "FlowMesh calls", "/s"),
            sparkline(
                s.rate(
                    "flowmesh", "flowmesh_requests_total", lambda labels: "code=OK" not in labels
                ),
                "FlowMesh errors",
                "/s",
            ),
        ]
        # the tenant's own queues and consumer groups (these series carry the tenant)
        mine = f"tenant={tenant(request)}"
        queue_states = (
            ("pending", "Queued jobs pending"),
            ("in_flight", "Jobs in flight"),
            ("dlq", "Jobs in DLQs"),
        )
        for state, label in queue_states:
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
    return render(
        request,
        "charts.html",
        api=api,
        work=work,
        mesh=mesh,
        interval=s.interval,
        sampled=len(s.samples.get("automation", ())),
    )


ROUTES = [Route("/charts", charts, methods=["GET"])]
