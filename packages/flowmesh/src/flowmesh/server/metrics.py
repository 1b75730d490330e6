"""Prometheus metrics: operation counts and latencies, queue depths, stream lag.

Each server owns its registry (so tests can run several servers in one
process); ``flowmesh serve --metrics-port N`` exposes it over HTTP.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from flowmesh.server.store.base import QueueStats, Resource


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._requests = Counter(
            "flowmesh_requests_total",
            "RPCs handled, by method and status code",
            ["method", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "flowmesh_request_seconds",
            "RPC latency, by method",
            ["method"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 25),
            registry=self.registry,
        )
        self._delivered = Counter(
            "flowmesh_delivered_total",
            "Stream messages pushed to subscribers and jobs handed to workers",
            ["kind"],
            registry=self.registry,
        )
        self._queue_jobs = Gauge(
            "flowmesh_queue_jobs",
            "Jobs in a queue by state, as of the last stats request",
            ["tenant", "namespace", "queue", "state"],
            registry=self.registry,
        )
        self._lag = Gauge(
            "flowmesh_stream_lag",
            "Messages a consumer group is behind, as of the last state request",
            ["tenant", "namespace", "stream", "group", "partition"],
            registry=self.registry,
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        self._requests.labels(method, code).inc()
        self._latency.labels(method).observe(seconds)

    def delivered(self, kind: str, count: int) -> None:
        self._delivered.labels(kind).inc(count)

    def queue_depth(self, queue: Resource, stats: QueueStats) -> None:
        for state, value in (
            ("pending", stats.pending_jobs),
            ("delayed", stats.delayed_jobs),
            ("in_flight", stats.in_flight_jobs),
            ("dlq", stats.dlq_jobs),
        ):
            self._queue_jobs.labels(queue.tenant, queue.namespace, queue.name, state).set(value)

    def stream_lag(self, stream: Resource, group: str, partition: int, lag: int) -> None:
        self._lag.labels(stream.tenant, stream.namespace, stream.name, group, str(partition)).set(
            lag
        )

    def serve_http(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
