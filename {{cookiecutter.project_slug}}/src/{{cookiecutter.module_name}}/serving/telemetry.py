"""The API's telemetry for GET /metrics: requests, latencies, predictions and the prediction log."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROCESS_ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"  # set by server.py when serving.workers > 1
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PATHS = {"/health", "/ready", "/model", "/predict", "/predict/batch", "/metrics", "/docs"}


class LogTelemetry:
    """What the prediction log counts: rows written, waiting, refused, and failed writes."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.written = Counter("prediction_log_written", "Predictions written to the log.", registry=registry)
        self.waiting = Gauge("prediction_log_waiting", "Predictions queued or being retried, not yet written.",
                             registry=registry, multiprocess_mode="livesum")  # fmt: skip
        self.write_errors = Counter("prediction_log_write_errors", "Failed writes to the store (retried).",
                                    registry=registry)  # fmt: skip
        self.dropped = Counter("prediction_log_dropped", "Predictions not logged: queue full, or store down at "
                               "shutdown.", registry=registry)  # fmt: skip


class Telemetry:
    """The API's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self, task: str, target_range: list[float] | None, *, log_predictions: bool) -> None:
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests by path and status code.",
                                ["path", "status"], registry=registry)  # fmt: skip
        self.latency = Histogram("http_request_duration_seconds", "Request latency by path.", ["path"],
                                 registry=registry, buckets=LATENCY_BUCKETS)  # fmt: skip
        self.batch_rows = Histogram("prediction_batch_rows", "Rows per model call.", registry=registry,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024))  # fmt: skip
        self.warnings = Counter("prediction_warnings", "Values scored but flagged, by feature.", ["feature"],
                                registry=registry)  # fmt: skip
        self.model = Gauge("model_info", "The model being served (value 1).", ["version", "runtime"],
                           registry=registry, multiprocess_mode="max")  # fmt: skip
        # Each label set's child is looked up once: labels() takes a lock and builds a key every call.
        self.request_count = functools.cache(self.requests.labels)
        self.request_latency = functools.cache(self.latency.labels)
        self.warning_count = functools.cache(self.warnings.labels)
        self.class_count: Any = None  # classification: the count of each class served
        self.values: Histogram | None = None  # regression: the values served
        if task == "classification":
            predictions = Counter(
                "predictions", "Predictions served, by class.", ["class"], registry=registry
            )
            self.class_count = functools.cache(predictions.labels)
        else:
            low, high = target_range or (0.0, 1.0)
            step = (high - low) / 10 or 1.0
            self.values = Histogram("prediction_value", "Regression predictions.", registry=registry,
                                    buckets=[low + step * i for i in range(11)])  # fmt: skip
        self.log = LogTelemetry(registry) if log_predictions else None

    def count_predictions(self, predictions: list[Any], warnings: list[list[str]]) -> None:
        for flags in warnings:
            for warning in flags:
                self.warning_count(warning.split(":", 1)[0]).inc()
        for prediction in predictions:
            if self.class_count is not None:
                self.class_count(prediction).inc()
            elif self.values is not None:
                self.values.observe(prediction)

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text format: every worker's, when there are several."""
        if MULTIPROCESS_ENV_VAR not in os.environ:
            return generate_latest(self.registry)
        # Each worker writes its numbers to files in that folder; the collector adds them up.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


class RequestTelemetry:
    """Count and time every request (a pure ASGI middleware: it observes, it never answers)."""

    def __init__(self, app: Any, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), "499"  # no answer at all: the client left first

        async def send_and_note(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            if status == "499":  # Starlette's outermost layer answers it with a 500
                status = "500"
            raise
        finally:
            path = scope["path"] if scope["path"] in PATHS else "other"
            self.telemetry.request_count(path, status).inc()
            self.telemetry.request_latency(path).observe(time.perf_counter() - started)
