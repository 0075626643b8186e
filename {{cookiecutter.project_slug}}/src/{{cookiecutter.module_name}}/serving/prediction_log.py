"""The prediction log: routes queue each scored record; one thread writes them to the table in batches."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import queue
import threading
import time
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry

from ..project import Project
from .prediction_table import PredictionTable
from .telemetry import LogTelemetry

logger = logging.getLogger(__name__)
MAX_RETRY_PAUSE_S = 30.0


class PredictionLog:
    """Queue scored records without ever blocking a request; write them from one daemon thread."""

    def __init__(
        self,
        table: PredictionTable | None,
        *,
        model_version: str = "",
        runtime: str = "",
        capacity: int = 100_000,
        flush_rows: int = 250,
        flush_seconds: float = 1.0,
        telemetry: LogTelemetry | None = None,
    ) -> None:
        self.table = table
        self.model_version, self.runtime = model_version, runtime
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self.telemetry = telemetry or LogTelemetry(CollectorRegistry())
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self.pending: list[dict[str, Any]] = []  # table rows taken from the queue, not written yet
        # Request ids are unique across workers and restarts: a random prefix per process, then a count.
        self.prefix = os.urandom(6).hex()
        self.requests = itertools.count()
        self.stopping = threading.Event()
        self.deadline = math.inf
        self.thread: threading.Thread | None = None
        self.last_warning = -math.inf

    @classmethod
    def for_project(
        cls, project: Project, model_version: str, runtime: str, telemetry: LogTelemetry | None = None
    ) -> PredictionLog:
        """Return the log that `monitoring:` configures (one that writes nothing when log_predictions is off)."""
        settings = project.config.monitoring
        table = PredictionTable(project.prediction_log_url) if settings.log_predictions else None
        return cls(table, model_version=model_version, runtime=runtime, capacity=settings.queue_rows,
                   flush_rows=settings.flush_rows, flush_seconds=settings.flush_seconds,
                   telemetry=telemetry)  # fmt: skip

    def start(self) -> None:
        if self.table is not None:
            self.thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self.thread.start()

    def add(self, rows: list[dict[str, Any]], answers: list[dict[str, Any]], started: float) -> str:
        """Queue one request's rows and answers as table rows, if there is room (`started`: its
        perf_counter() on arrival); return the request id they are logged under (feedback names it)."""
        request_id = f"{self.prefix}-{next(self.requests)}"
        if self.table is None:
            return ""
        shared = {
            "created_at": datetime.now(timezone.utc).replace(tzinfo=None),
            "request_id": request_id,
            "model_version": self.model_version,
            "runtime": self.runtime,
            "latency_ms": (time.perf_counter() - started) * 1000,
        }
        for index, (row, answer) in enumerate(zip(rows, answers, strict=True)):
            try:
                self.queue.put_nowait({**shared, "row_index": index, "features": row,
                                       "prediction": answer["prediction"],
                                       "probabilities": answer.get("probabilities")})  # fmt: skip
            except queue.Full:
                self._drop(len(rows) - index)
                break
        return request_id

    def waiting(self) -> int:
        """Return how many records are queued or being retried."""
        return self.queue.qsize() + len(self.pending)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (retrying until timeout), then stop; count what could not be written."""
        if self.thread is None or self.table is None:
            return
        self.deadline = time.monotonic() + timeout
        self.stopping.set()
        self.thread.join(timeout + 1.0)
        if unwritten := self.waiting():
            self.telemetry.dropped.inc(unwritten)
            logger.error(
                "%d predictions could not be written to the prediction log before shutdown", unwritten
            )
        self.table.dispose()

    def _drop(self, rows: int) -> None:
        self.telemetry.dropped.inc(rows)
        if time.monotonic() - self.last_warning > 10:  # at most one line every 10 s
            self.last_warning = time.monotonic()
            logger.warning("prediction log queue full (%d records): %d not logged", self.queue.maxsize, rows)

    def _run(self) -> None:
        assert self.table is not None
        with contextlib.suppress(Exception):  # create the table now; a store that is down is retried later
            self.table.connect()
        failures = 0
        while True:
            while len(self.pending) < self.flush_rows and not self.queue.empty():
                self.pending.append(self.queue.get_nowait())
            if self.pending:
                failures = 0 if self._write() else failures + 1
            self.telemetry.waiting.set(self.waiting())
            if self.stopping.is_set():
                if not self.waiting() or time.monotonic() > self.deadline:
                    return
                time.sleep(0.1 if failures else 0.0)
            elif failures:  # the store failed: wait longer each time
                self.stopping.wait(min(MAX_RETRY_PAUSE_S, self.flush_seconds * 2 ** min(failures, 5)))
            elif self.queue.qsize() < self.flush_rows:
                self.stopping.wait(self.flush_seconds)

    def _write(self) -> bool:
        """Insert the pending records in one transaction; keep them for a retry if that fails."""
        assert self.table is not None
        try:
            self.table.insert_rows(self.pending)
        except Exception as exc:  # any store failure: keep the records, retry later
            self.telemetry.write_errors.inc()
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.warning(
                "prediction log: %d records not written yet, will retry (%s)", len(self.pending), reason
            )
            return False
        self.telemetry.written.inc(len(self.pending))
        self.pending = []
        return True
