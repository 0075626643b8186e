"""Ground truth: the true target of logged predictions, sent back by clients (POST /feedback, `feedback`).

A label names a prediction by the request id the API returned (the X-Request-ID header) and the
row's position in the request (0 for /predict). Only the target is stored, in a `feedback` table in
the prediction log's database; a label for a prediction not in the log (yet) is counted as unknown
and not stored, and a second label for the same row replaces the first (a correction).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from sqlalchemy.dialects import postgresql, sqlite

from ..contract import Contract
from .prediction_table import PredictionTable, metadata, predictions
from .schemas import TrainedLabels

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("request_id", sa.String(40), nullable=False),
    sa.Column("row_index", sa.Integer, nullable=False),
    sa.Column("actual", sa.JSON, nullable=False),  # the target only: no feature, no identifier
    sa.UniqueConstraint("request_id", "row_index"),
)
UPSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# Built once: a statement built per request costs more than the database's work.
KNOWN = sa.select(predictions.c.request_id, predictions.c.row_index).where(
    predictions.c.request_id.in_(sa.bindparam("ids", expanding=True))
)


class FeedbackAnswer(BaseModel):
    stored: int
    unknown: int  # labels whose prediction is not in the log: resend them after monitoring.flush_seconds
    unknown_ids: list[str]


def build_label_models(contract: Contract, max_rows: int) -> tuple[type[BaseModel], Any]:
    """Return the model of one label and the request body the route accepts: one label or a list."""
    if contract.classes:
        actual: Any = Annotated[
            Literal[tuple(contract.classes)], BeforeValidator(TrainedLabels(contract.classes))
        ]
    else:
        actual = Annotated[float, Field(strict=True, allow_inf_nan=False)]
    label = create_model(
        "Label",
        __config__=ConfigDict(extra="forbid"),
        request_id=(str, Field(min_length=1, max_length=40)),
        row_index=(int, Field(0, ge=0)),
        actual=(actual, Field(description=f"The true `{contract.target}`.")),
    )
    return label, label | Annotated[list[label], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]


class FeedbackStore:
    """The feedback table beside the predictions table, at the prediction log's URL."""

    def __init__(self, url: str) -> None:
        self.table = PredictionTable(url)
        self.upsert: Any = None  # built on the first call, for the store's database

    def answer(self, labels: list[BaseModel]) -> FeedbackAnswer:
        """Store the labels (see add) and say how many were stored and which request ids are unknown."""
        stored, unknown = self.add(labels)
        return FeedbackAnswer(
            stored=stored, unknown=len(unknown), unknown_ids=sorted({key[0] for key in unknown})
        )

    def add(self, labels: list[BaseModel]) -> tuple[int, list[tuple[str, int]]]:
        """Store the labels of logged predictions in one transaction; return how many, and the other keys."""
        engine = self.table.connect()  # its first call creates both tables (they share `metadata`)
        ids = {label.request_id for label in labels}  # type: ignore[attr-defined]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.upsert = self.upsert if self.upsert is not None else self._upsert(engine)
        with engine.begin() as connection:
            known = {tuple(row) for row in connection.execute(KNOWN, {"ids": list(ids)})}
            rows = {(label.request_id, label.row_index): label.actual for label in labels}  # type: ignore[attr-defined]
            stored = [{"created_at": now, "request_id": key[0], "row_index": key[1], "actual": actual}
                      for key, actual in rows.items() if key in known]  # fmt: skip
            if stored:
                connection.execute(self.upsert, stored)
        return len(stored), [key for key in rows if key not in known]

    def _upsert(self, engine: sa.Engine) -> Any:
        insert = UPSERTS.get(engine.dialect.name)
        if insert is None:  # another database: a second label for a row is refused by the constraint
            return sa.insert(feedback)
        statement = insert(feedback)
        return statement.on_conflict_do_update(
            index_elements=["request_id", "row_index"],
            set_={"actual": statement.excluded.actual, "created_at": statement.excluded.created_at},
        )

    def dispose(self) -> None:
        self.table.dispose()
