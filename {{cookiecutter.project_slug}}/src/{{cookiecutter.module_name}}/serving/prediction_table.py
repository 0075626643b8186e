"""The SQL table behind the prediction log: its schema, and fast batched inserts through SQLAlchemy.

SQLite (a file, the default) or any database SQLAlchemy reaches — PostgreSQL at scale. Times are
UTC; features, prediction and probabilities are JSON. The log hands over whole requests — their
bodies and answers as sent — and the store turns them into table rows: that work happens where
the store runs, in the API's case a child process (store_process.py), not on the API's event loop.
"""

from __future__ import annotations

import itertools
import json
import marshal
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..contract import BOOLEAN, NUMERIC

TABLE = "predictions"
ROWS_PER_INSERT = 100  # rows per INSERT statement (9 values each: under SQLite's oldest limit of 999)


# The columns the writer fills, in the order of the values of each row it writes.
COLUMNS = ("created_at", "request_id", "row_index", "model_version", "runtime", "latency_ms", "features",
           "prediction", "probabilities")  # fmt: skip


# What every request of a log shares: (process id, model version, runtime).
Context = tuple[str, str, str]


def table_rows(context: Context, requests: bytes) -> list[tuple[Any, ...]]:
    """One tuple of COLUMNS values per scored row of the requests PredictionLog encoded.

    `requests` is marshal((first request number, arrival times, latencies in ms, request bodies,
    predictions, probabilities)): for a single-record request the body is the record's JSON and is
    stored as it came (reading it back, as_scored gives the values the model saw); a batch request
    has {"records": [...]} and lists of answers. Times become UTC text, as SQLAlchemy writes them.
    """
    process_id, version, runtime = context
    first, times, latencies, bodies, predictions, probabilities = marshal.loads(requests)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    rows, second, second_text = [], -1, ""
    for offset, created in enumerate(times):
        whole = int(created)
        if whole != second:  # format the date once a second
            second = whole
            second_text = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        head = (f"{second_text}.{int((created - whole) * 1_000_000):06d}", f"{process_id}-{first + offset}")
        tail = (version, runtime, latencies[offset])
        if isinstance(predictions[offset], str):  # one record, as the client sent it
            chances = probabilities[offset]
            rows.append((*head, 0, *tail, bodies[offset].decode(), predictions[offset], chances or "null"))
            continue
        try:
            records = [dumps(record) for record in json.loads(bodies[offset])["records"]]
        except (ValueError, KeyError, TypeError):  # not expected of a validated request: keep it visible
            text = bytes(bodies[offset][:1000]).decode("utf-8", "replace")
            records = [dumps({"unparsed_request": text})] * len(predictions[offset])
        chances = probabilities[offset] or ["null"] * len(records)
        for index, (record, prediction, chance) in enumerate(
            zip(records, predictions[offset], chances, strict=True)
        ):
            rows.append((*head, index, *tail, record, prediction, chance))
    return rows


TRUE_TEXT = {"1", "true", "t", "yes", "y", "on"}  # the strings pydantic reads as true


def as_scored(record: dict[str, Any], features: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A logged record's values as the API validated them: numbers as floats, flags as booleans,
    in the contract's order (the log keeps single records as the client spelled them)."""
    if not features or "unparsed_request" in record:
        return record
    values = {}
    for name, kind in features:
        value = record.get(name)
        if value is not None and kind == NUMERIC:
            try:
                value = float(value)
            except (TypeError, ValueError):  # logged under another contract: unknown here
                value = None
        elif value is not None and kind == BOOLEAN:
            value = value.strip().lower() in TRUE_TEXT if isinstance(value, str) else bool(value)
        values[name] = value
    return values


def define_table(metadata: Any) -> Any:
    """The `predictions` table: one row per scored record (times are UTC)."""
    import sqlalchemy as sa

    return sa.Table(
        TABLE,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        # No index on created_at: it would double the cost of each insert (measured on SQLite), and
        # `monitor` reads the newest rows by id, where a time window is a filter on the same scan.
        sa.Column("created_at", sa.DateTime, nullable=False),
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
        # For many rows per call (drivers with positional parameters): "INSERT ... VALUES ", "(?, ?, ...)".
        self._insert_head = ""
        self._row_values = ""

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

    def write(self, context: Context, requests: bytes) -> None:
        """Insert the rows of these requests (see table_rows) in one transaction."""
        engine, _ = self.connect()
        rows = table_rows(context, requests)
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
                connection.exec_driver_sql(statement, tuple(itertools.chain.from_iterable(chunk)))

    def count(self) -> int:
        import sqlalchemy as sa

        engine, table = self.connect()
        with engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
