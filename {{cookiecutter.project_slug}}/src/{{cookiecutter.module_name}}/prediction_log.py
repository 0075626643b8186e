"""The prediction log: every served prediction, written to a SQL table off the response path.

The API hands each answered request to `PredictionLog.add_json` with the features and answers
already as JSON text (the response is built from the same text, see answers.py). It makes one
table row per scored row — a tuple of text and numbers — and appends them to a bounded in-memory
buffer: a few microseconds, on the event loop. A background thread writes the buffer in batches
to the store (prediction_store.py): a SQLite file by default, or any database from
`monitoring.url` or $PREDICTION_LOG_URL (PostgreSQL at scale). The thread does no per-row Python
work: it shares the interpreter lock (GIL) with the API, and Python work there slowed the API
down more than the same work on the event loop (benchmarks/monitoring_bench.py).

A failing or slow store never fails a prediction: the thread keeps the unwritten rows and retries
with a growing pause, so a store that is briefly down loses nothing. Only when the buffer is full
are new records refused — counted in /metrics (`prediction_log_dropped_total`) and in the server
log, never silently. The records hold the contract's features only: identifier and sensitive
columns are not API inputs, so they cannot reach the log.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from . import prometheus
from .config import Project
from .prediction_store import PredictionStore

logger = logging.getLogger(__name__)
MAX_RETRY_PAUSE_S = 30.0
WRITE_CHUNK_ROWS = 2000  # rows per transaction
Row = tuple[Any, ...]  # the values of prediction_store.COLUMNS, JSON columns as JSON text


class PredictionLog:
    """Buffer answered requests and write them from one background thread, in batches."""

    def __init__(
        self,
        store: PredictionStore | None,
        *,
        model_version: str = "",
        runtime: str = "",
        capacity: int = 100_000,
        flush_rows: int = 2000,
        flush_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.model_version, self.runtime = model_version, runtime
        self.capacity, self.flush_rows, self.flush_seconds = capacity, flush_rows, flush_seconds
        self.written = self.dropped = self.write_errors = 0
        self._failures = 0  # consecutive failed writes: the retry pause doubles with each
        # Request ids: random per process (unique across workers and restarts), then a count.
        self._process_id, self._request_numbers = os.urandom(6).hex(), itertools.count(1)
        self._buffer: list[Row] = []  # rows to write, not yet taken by the writer
        self._waiting = 0  # records accepted and not yet written (buffered or being retried)
        self._second, self._second_text = -1, ""  # the current second, as created_at text
        self._refusal_logged = -math.inf
        self._lock = threading.Lock()
        self._wake = threading.Event()  # enough records buffered: write now
        self._stop = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None

    @classmethod
    def for_project(cls, project: Project, model_version: str, runtime: str) -> PredictionLog:
        """The log `monitoring:` configures (disabled when log_predictions is false)."""
        settings = project.config.monitoring
        store = PredictionStore(project.prediction_log_url) if settings.log_predictions else None
        return cls(
            store,
            model_version=model_version,
            runtime=runtime,
            capacity=settings.queue_rows,
            flush_rows=settings.flush_rows,
            flush_seconds=settings.flush_seconds,
        )

    @property
    def enabled(self) -> bool:
        """Whether predictions are logged (callers skip preparing records when not)."""
        return self.store is not None

    def start(self) -> None:
        if self.store is not None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def add(self, rows: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]], started: float) -> None:
        """Queue rows and their answers given as dicts ({"prediction": ..., "probabilities": ...}).

        For scripts and tests; the API has the JSON text already and calls add_json.
        """
        dumps = json.dumps
        predictions = [dumps(answer["prediction"]) for answer in answers]
        probabilities = [dumps(answer.get("probabilities")) for answer in answers]
        self.add_json([dumps(row) for row in rows], predictions, probabilities, started)

    def add_json(
        self,
        features: Sequence[str],
        predictions: Sequence[str],
        probabilities: Sequence[str] | None,
        started: float,
    ) -> None:
        """Queue one request's rows, each item JSON text; `started` is its time.perf_counter() at arrival.

        Args:
            probabilities: None for regression (logged as JSON null).
        """
        if self.store is None:
            return
        latency_ms = (time.perf_counter() - started) * 1000
        head = (self._now(), f"{self._process_id}-{next(self._request_numbers)}")
        tail = (self.model_version, self.runtime, latency_ms)
        values = zip(features, predictions, probabilities or ["null"] * len(features), strict=True)
        rows = [(*head, index, *tail, *row) for index, row in enumerate(values)]
        with self._lock:
            if self._waiting + len(rows) > self.capacity:
                self._refuse(len(rows))
                return
            self._buffer.extend(rows)
            self._waiting += len(rows)
            # Wake the writer once, when the buffer reaches flush_rows: waking it for every request
            # would make it write many small batches, each costing a transaction.
            crossed = len(self._buffer) >= self.flush_rows > len(self._buffer) - len(rows)
        if crossed:
            self._wake.set()

    def _now(self) -> str:
        """UTC now as SQLAlchemy writes a DateTime ("2025-01-31 12:00:00.123456"), formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            start = datetime.fromtimestamp(second, timezone.utc)
            self._second, self._second_text = second, start.strftime("%Y-%m-%d %H:%M:%S")
        return f"{self._second_text}.{int((now - second) * 1_000_000):06d}"

    def _refuse(self, rows: int) -> None:
        self.dropped += rows
        if time.monotonic() - self._refusal_logged > 10:  # at most one line every 10 s
            self._refusal_logged = time.monotonic()
            logger.warning(
                "prediction log buffer full (%d records): %d not logged so far", self.capacity, self.dropped
            )

    def waiting(self) -> int:
        return self._waiting

    def close(self, timeout: float = 10.0) -> None:
        """Write what is buffered (retrying until timeout), then stop; count what could not be written."""
        if self._thread is None:
            return
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout + 1.0)
        if self._waiting:
            self.dropped += self._waiting
            logger.error(
                "%d predictions could not be written to the prediction log before shutdown", self._waiting
            )
        if self.store is not None:
            self.store.dispose()

    def metrics(self) -> list[prometheus.Counter]:
        """The log's counters for /metrics (none when logging is off)."""
        if self.store is None:
            return []
        written = prometheus.Counter("prediction_log_written_total", "Predictions written to the log.")
        waiting = prometheus.Counter(
            "prediction_log_waiting", "Predictions buffered or being retried, not yet written.", kind="gauge"
        )
        errors = prometheus.Counter(
            "prediction_log_write_errors_total", "Failed writes to the store (retried)."
        )
        dropped = prometheus.Counter(
            "prediction_log_dropped_total", "Predictions not logged: buffer full, or store down at shutdown."
        )
        for counter, value in (
            (written, self.written),
            (waiting, self._waiting),
            (errors, self.write_errors),
            (dropped, self.dropped),
        ):
            counter.set(value)
        return [written, waiting, errors, dropped]

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # a store that is down now is retried at each write
            # Import SQLAlchemy and create the table at start-up, not under the first requests.
            self.store.connect()  # type: ignore[union-attr]
        pending: list[Row] = []
        while True:
            stopping = self._stop.is_set()
            with self._lock:
                taken, self._buffer = self._buffer, []
            pending = self._write([*pending, *taken])
            if stopping and (not pending or time.monotonic() > self._deadline):
                return
            if stopping:
                time.sleep(0.1)
            elif pending:  # the store failed: wait longer each time, up to MAX_RETRY_PAUSE_S
                self._stop.wait(min(MAX_RETRY_PAUSE_S, self.flush_seconds * 2 ** min(self._failures, 5)))
            else:
                self._wake.wait(self.flush_seconds)
            self._wake.clear()

    def _write(self, records: list[Row]) -> list[Row]:
        """Write records in chunks; return those not written."""
        for start in range(0, len(records), WRITE_CHUNK_ROWS):
            chunk = records[start : start + WRITE_CHUNK_ROWS]
            try:
                self.store.write(chunk)  # type: ignore[union-attr]
            except Exception as exc:  # any store failure: keep the records, retry later
                self.write_errors += 1
                self._failures += 1
                logger.warning(
                    "prediction log: %d records not written yet, will retry (%s)",
                    len(records) - start, str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )  # fmt: skip
                return records[start:]
            self._failures = 0
            with self._lock:
                self._waiting -= len(chunk)
            self.written += len(chunk)
        return []
