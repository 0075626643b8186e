"""The prediction log: every served prediction, written to a SQL table off the response path.

The API hands each answered request to `PredictionLog.add`, which turns it into JSON text and
appends it to a bounded in-memory buffer (a few microseconds: buffered dicts would survive into the
garbage collector's old generations and make it re-walk the whole heap far more often, which costs
the API several times more). A background thread writes the buffer in batches through
SQLAlchemy: to a SQLite file by default, or to any database URL from `monitoring.url` (PostgreSQL
at scale). A failing or slow store never fails a prediction: the thread keeps the unwritten records
and retries with a growing pause, so a store that is briefly down loses nothing. Only when the
buffer is full are new records refused — counted in /metrics (`prediction_log_dropped_total`) and
in the server log, never silently. The records hold the contract's features only: identifier and
sensitive columns are not API inputs, so they cannot reach the log.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import prometheus
from .config import Project

logger = logging.getLogger(__name__)
TABLE = "predictions"
MAX_RETRY_PAUSE_S = 30.0
WRITE_CHUNK_ROWS = 1000  # rows per transaction
ROWS_PER_INSERT = 100  # rows per INSERT statement (9 values each: under SQLite's oldest limit of 999)


# The columns the writer fills, in the order of its row tuples.
COLUMNS = ("created_at", "request_id", "row_index", "model_version", "runtime", "latency_ms", "features",
           "prediction", "probabilities")  # fmt: skip


def define_table(metadata: Any) -> Any:
    """The `predictions` table: one row per scored record (times are UTC)."""
    import sqlalchemy as sa

    return sa.Table(
        TABLE,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("row_index", sa.Integer, nullable=False),  # position in a /predict/batch request
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("runtime", sa.String(16), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("prediction", sa.JSON, nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=True),
    )


def printable_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    # WAL: `make monitor` reads while the API writes; NORMAL: no disk flush at every commit
    # (a power cut may lose the last second of the log, never corrupt it).
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


class PredictionStore:
    """The SQL table behind the log; the engine and table are created on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Any = None
        self._table: Any = None
        self._insert = ""  # the INSERT in the driver's own SQL, one row per call
        self._insert_head, self._row_values = (
            "",
            "",
        )  # for many rows per call: "INSERT ... VALUES ", "(?, ?, ...)"

    def connect(self) -> tuple[Any, Any]:
        """Return (engine, table), creating the SQLite folder and the table when missing."""
        if self._engine is None:
            import sqlalchemy as sa

            if self.url.startswith("sqlite:///"):
                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self.url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            table = define_table(sa.MetaData())
            table.create(engine, checkfirst=True)
            # The INSERT is compiled once and rows go to the driver as they are (JSON already
            # serialized): table.insert()'s per-row type processing would double the writer's CPU
            # time, which it shares with the API through the GIL.
            compiled = table.insert().compile(dialect=engine.dialect, column_keys=list(COLUMNS))
            self._insert = str(compiled)
            if compiled.positional and list(compiled.positiontup or ()) == list(COLUMNS):
                head, _, values = self._insert.partition(" VALUES ")
                self._insert_head, self._row_values = f"{head} VALUES ", values
            self._engine, self._table = engine, table
        return self._engine, self._table

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows (tuples in COLUMNS order, JSON columns serialized) in one transaction."""
        engine, _ = self.connect()
        with engine.begin() as connection:
            if not self._row_values:  # a driver with named parameters: one call per row
                connection.exec_driver_sql(
                    self._insert, [dict(zip(COLUMNS, row, strict=True)) for row in rows]
                )
                return
            # Many rows per statement: the driver releases the GIL once per call, not once per row,
            # so the API's thread does not have to win it back after every row.
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                statement = self._insert_head + ", ".join([self._row_values] * len(chunk))
                connection.exec_driver_sql(statement, tuple(value for row in chunk for value in row))

    def stored_time(self, moment: datetime) -> Any:
        """A UTC time as the driver takes it: SQLite has no time type, so text as SQLAlchemy writes it."""
        return moment.isoformat(" ", "microseconds") if self.url.startswith("sqlite") else moment

    def count(self) -> int:
        import sqlalchemy as sa

        engine, table = self.connect()
        with engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class PredictionLog:
    """Buffer answered requests and write them from one background thread, in batches."""

    def __init__(
        self,
        store: PredictionStore | None,
        *,
        model_version: str = "",
        runtime: str = "",
        capacity: int = 100_000,
        flush_rows: int = 500,
        flush_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.model_version, self.runtime = model_version, runtime
        self.capacity, self.flush_rows, self.flush_seconds = capacity, flush_rows, flush_seconds
        self.written = self.dropped = self.write_errors = 0
        self._failures = 0  # consecutive failed writes: the retry pause doubles with each
        # Request ids: random per process (unique across workers and restarts), then a count.
        self._process_id, self._requests = os.urandom(6).hex(), 0
        self._buffer: list[tuple[Any, ...]] = []  # (time, latency, features, predictions, probabilities)
        self._waiting = 0  # records accepted and not yet written (buffered or being retried)
        self._buffered = 0  # records in _buffer, not yet taken by the writer
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

    def start(self) -> None:
        if self.store is not None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def add(self, rows: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]], started: float) -> None:
        """Queue one request's rows and answers; `started` is its time.perf_counter() at arrival."""
        if self.store is None:
            return
        dumps = json.dumps
        item = (
            time.time(),
            (time.perf_counter() - started) * 1000,
            tuple(dumps(row) for row in rows),
            tuple(dumps(answer["prediction"]) for answer in answers),
            tuple(
                None if (probs := answer.get("probabilities")) is None else dumps(probs) for answer in answers
            ),
        )
        with self._lock:
            if self._waiting + len(rows) > self.capacity:
                self._refuse(len(rows))
                return
            self._buffer.append(item)
            self._waiting += len(rows)
            self._buffered += len(rows)
            # Wake the writer once, when the buffer reaches flush_rows: waking it for every request
            # would make it write many small batches, each costing a transaction.
            crossed = self._buffered >= self.flush_rows > self._buffered - len(rows)
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
        pending: list[tuple[Any, ...]] = []
        while True:
            stopping = self._stop.is_set()
            with self._lock:
                taken, self._buffer, self._buffered = self._buffer, [], 0
            pending = self._write([*pending, *self._records(taken)])
            if stopping and (not pending or time.monotonic() > self._deadline):
                return
            if stopping:
                time.sleep(0.1)
            elif pending:  # the store failed: wait longer each time, up to MAX_RETRY_PAUSE_S
                self._stop.wait(min(MAX_RETRY_PAUSE_S, self.flush_seconds * 2 ** min(self._failures, 5)))
            else:
                self._wake.wait(self.flush_seconds)
            self._wake.clear()

    def _write(self, records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
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

    def _records(self, items: list[Any]) -> list[tuple[Any, ...]]:
        """One tuple per row, in COLUMNS order."""
        records = []
        for timestamp, latency_ms, features, predictions, probabilities in items:
            self._requests += 1
            request_id = f"{self._process_id}-{self._requests}"
            created = self.store.stored_time(
                datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)
            )  # type: ignore[union-attr]
            records.extend(
                (created, request_id, index, self.model_version, self.runtime, latency_ms, *row)
                for index, row in enumerate(zip(features, predictions, probabilities, strict=True))
            )
        return records
