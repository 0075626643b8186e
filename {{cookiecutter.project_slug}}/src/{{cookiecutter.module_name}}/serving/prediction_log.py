"""The prediction log: every served prediction, written to a SQL table off the response path.

The API hands each answered request to `PredictionLog.add_raw`: the request body it validated and
each row's answer as the JSON text its response was built from (answers.py), all of which exist
anyway. On the event loop that is a few list appends, well under a microsecond. Two things made earlier designs cost the API 5-10% of its
throughput, and both are avoided here: serializing on the loop (even a few microseconds there
cost more, since they run between model calls that have evicted the caches), and objects that
outlive the request (thousands of buffered tuples and dicts made the garbage collector run, and
rescan them, where otherwise it never runs: bytes and floats are not tracked by it).
A background thread takes the buffer in batches and hands them to the store
(prediction_store.py), which parses them into table rows and inserts them: a SQLite file by default, or any database from `monitoring.url` or
$PREDICTION_LOG_URL (PostgreSQL at scale). In the API the store runs in a child process
(store_process.py), so that work never competes with the event loop for the interpreter lock;
the thread only ships the batches and waits (benchmarks/monitoring_bench.py measures the cost).

A failing or slow store never fails a prediction: the thread keeps the unwritten rows and retries
with a growing pause, so a store that is briefly down loses nothing. Only when the buffer is full
are new records refused — counted in /metrics (`prediction_log_dropped_total`) and in the server
log, never silently. The records hold the contract's features only: identifier and sensitive
columns are not API inputs, so they cannot reach the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import marshal
import math
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..config import Project
from . import telemetry
from .prediction_table import PredictionStore
from .store_process import StoreProcess

logger = logging.getLogger(__name__)
MAX_RETRY_PAUSE_S = 30.0


class PredictionLog:
    """Buffer answered requests and write them from one background thread, in batches."""

    def __init__(
        self,
        store: PredictionStore | StoreProcess | None,
        *,
        model_version: str = "",
        runtime: str = "",
        capacity: int = 100_000,
        flush_rows: int = 2000,
        flush_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.capacity, self.flush_rows, self.flush_seconds = capacity, flush_rows, flush_seconds
        self.written = self.dropped = self.write_errors = 0
        self._failures = 0  # consecutive failed writes: the retry pause doubles with each
        # Request ids: random per process (unique across workers and restarts), then a count.
        self._process_id = os.urandom(6).hex()
        # What the store needs besides each request: (process id, model version, runtime).
        self.context = (self._process_id, model_version, runtime)
        # Requests not yet taken by the writer, as parallel lists of values the garbage collector
        # does not track: arrival time, latency in ms, request body, response body, is it a batch.
        self._buffer: tuple[list[float], list[float], list[bytes], list[bytes], list[bool]] = (
            [],
            [],
            [],
            [],
            [],
        )
        self._buffered = 0  # rows in _buffer
        self._numbered = 0  # requests handed to the writer so far: the next batch's first number - 1
        self._waiting = 0  # rows accepted and not yet written (buffered or being retried)
        self._refusal_logged = -math.inf
        self._lock = threading.Lock()
        self._wake = threading.Event()  # enough records buffered: write now
        self._stop = threading.Event()
        self._deadline = 0.0
        self._thread: threading.Thread | None = None

    @classmethod
    def for_project(cls, project: Project, model_version: str, runtime: str) -> PredictionLog:
        """The log `monitoring:` configures (disabled when log_predictions is false), its store
        in a child process."""
        settings = project.config.monitoring
        store = StoreProcess(project.prediction_log_url) if settings.log_predictions else None
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

        For scripts and tests; the API has the request body and the answers' JSON and calls add_raw.
        """
        body = json.dumps({"records": list(rows)}, default=_plain).encode()
        predictions = [json.dumps(answer["prediction"], default=_plain) for answer in answers]
        probabilities = [json.dumps(answer.get("probabilities"), default=_plain) for answer in answers]
        self.add_raw(body, predictions, probabilities, True, started)

    def add_raw(
        self,
        body: bytes,
        predictions: Sequence[str],
        probabilities: Sequence[str] | None,
        batch: bool,
        started: float,
    ) -> None:
        """Queue one answered request: its JSON body as received, and each row's answer as JSON text.

        Args:
            body: the request body: one record (POST /predict), or {"records": [...]} when `batch`.
            predictions: each record's prediction; probabilities: each one's, None for regression.
            started: time.perf_counter() when the request arrived.
        """
        if self.store is None:
            return
        rows = len(predictions)
        latency_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            if self._waiting + rows > self.capacity:
                self._refuse(rows)
                return
            times, latencies, bodies, answers, chances = self._buffer
            times.append(time.time())
            latencies.append(latency_ms)
            bodies.append(body)
            if batch:
                answers.append(predictions)
                chances.append(probabilities)
            else:  # the strings alone: a list kept here would be one more object for the collector
                answers.append(predictions[0])
                chances.append(None if probabilities is None else probabilities[0])
            self._buffered += rows
            self._waiting += rows
            # Wake the writer once, when the buffer reaches flush_rows: waking it for every request
            # would make it write many small batches, each costing a transaction.
            crossed = self._waiting >= self.flush_rows > self._waiting - rows
        if crossed:
            self._wake.set()

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

    def metrics(self) -> list[telemetry.Counter]:
        """The log's counters for /metrics (none when logging is off)."""
        if self.store is None:
            return []
        written = telemetry.Counter("prediction_log_written_total", "Predictions written to the log.")
        waiting = telemetry.Counter(
            "prediction_log_waiting", "Predictions buffered or being retried, not yet written.", kind="gauge"
        )
        errors = telemetry.Counter(
            "prediction_log_write_errors_total", "Failed writes to the store (retried)."
        )
        dropped = telemetry.Counter(
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
        pending: list[tuple[bytes, int]] = []  # (encoded requests, rows): one transaction each
        rows = 0
        while True:
            stopping = self._stop.is_set()
            with self._lock:
                if self._buffered:
                    taken, rows, first = self._buffer, self._buffered, self._numbered + 1
                    self._buffer, self._buffered = ([], [], [], [], []), 0
                    self._numbered += len(taken[0])
            if rows:  # numbered here, once: a batch that is retried keeps its request ids
                pending.append((marshal.dumps((first, *taken)), rows))
                rows = 0
            pending = self._write(pending)
            if stopping and (not pending or time.monotonic() > self._deadline):
                return
            if stopping:
                time.sleep(0.1)
            elif pending:  # the store failed: wait longer each time, up to MAX_RETRY_PAUSE_S
                self._stop.wait(min(MAX_RETRY_PAUSE_S, self.flush_seconds * 2 ** min(self._failures, 5)))
            else:
                self._wake.wait(self.flush_seconds)
            self._wake.clear()

    def _write(self, batches: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
        """Write the batches in order, one transaction each; return those not written."""
        for index, (requests, rows) in enumerate(batches):
            if self._stop.is_set() and time.monotonic() > self._deadline:
                return batches[index:]  # shutting down and out of time: close() counts the rest
            try:
                self.store.write(self.context, requests)  # type: ignore[union-attr]
            except Exception as exc:  # any store failure: keep the records, retry later
                self.write_errors += 1
                self._failures += 1
                logger.warning(
                    "prediction log: %d records not written yet, will retry (%s)",
                    self._waiting, str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )  # fmt: skip
                return batches[index:]
            self._failures = 0
            with self._lock:
                self._waiting -= rows
            self.written += rows
        return []


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for json.dumps."""
    return value.item()
