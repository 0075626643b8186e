"""The SQL table behind the prediction log: one row per scored record, in SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No index on created_at: it would double the cost of each insert, and `monitor` reads the
    # newest rows by id, where a time window is a filter on the same scan.
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("request_id", sa.String(40), nullable=False),
    sa.Column("row_index", sa.Integer, nullable=False),  # position in a /predict/batch request
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("runtime", sa.String(16), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),  # the contract's features, as the model saw them
    sa.Column("prediction", sa.JSON, nullable=False),
    sa.Column("probabilities", sa.JSON, nullable=True),
    # A retried batch must not be written twice: these rows are skipped on conflict (insert_rows).
    sa.UniqueConstraint("request_id", "row_index"),
)
INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def printable_url(url: str) -> str:
    """Return the URL with any password masked, for messages and logs."""
    return sa.make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    # WAL: `make monitor` reads while the API writes; NORMAL: no disk flush at every commit
    # (a power cut may lose the last second of the log, never corrupt it).
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


class PredictionTable:
    """The `predictions` table at a SQLAlchemy URL; the engine and the table are made on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: sa.Engine | None = None

    def connect(self) -> sa.Engine:
        """Return the engine, creating the SQLite folder and the table when missing."""
        if self._engine is None:
            if self.url.startswith("sqlite:///"):
                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self.url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            metadata.create_all(engine, checkfirst=True)
            self._engine = engine
        return self._engine

    def insert_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows in one transaction (one executemany), skipping any already written."""
        engine = self.connect()
        insert = INSERTS.get(engine.dialect.name)
        # Another database: there a retried batch is refused by the unique constraint.
        statement = sa.insert(predictions) if insert is None else insert(predictions).on_conflict_do_nothing()
        with engine.begin() as connection:
            connection.execute(statement, rows)

    def count(self) -> int:
        with self.connect().connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
