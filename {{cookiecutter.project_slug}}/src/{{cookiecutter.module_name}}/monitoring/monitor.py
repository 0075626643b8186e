"""The check `make monitor` runs: the logged window against the training data, and a verdict.

Reads the last N logged predictions (or a time window) from the prediction log with SQL, compares
them with the training reference (data/processed/train.parquet; drift.py does the comparison),
and writes reports/monitoring/drift.html, drift.json and a dated copy under history/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..contract import Contract
from ..errors import UserError
from ..project import Project
from ..serving.prediction_table import PredictionTable, predictions, printable_url
from .drift import PREDICTION, align_types, describe_predictions, drift_by_column, outside_training


class NotEnoughRows(UserError):
    """Too few logged predictions to judge drift."""


@dataclass(frozen=True)
class DriftResult:
    rows: int
    share: float  # of features that drifted
    threshold: float
    drifted_columns: list[str]
    prediction_drifted: bool
    report_dir: Path
    summary: dict[str, Any] = field(repr=False)

    @property
    def drifted(self) -> bool:
        return self.share >= self.threshold

    def describe(self) -> list[str]:
        """What the command prints (rich markup): the verdict, each drifted column, where the report is."""
        summary = self.summary
        lines = [
            f"  {self.rows} logged predictions vs {summary['reference_rows']} training rows: "
            f"{len(self.drifted_columns)}/{len(summary['columns'])} features drifted "
            f"({self.share * 100:.0f} %; drift from {self.threshold * 100:.0f} %)"
        ]
        for name in self.drifted_columns:
            column = summary["columns"][name]
            lines.append(f"  [red]drifted[/red] {name}: {column['method']} {column['score']:.3f}")
        verdict = "[red]drifted[/red]" if self.prediction_drifted else "stable"
        unseen = summary["outside_training_rows_share"]
        lines.append(
            f"  predictions vs training target: {verdict}; rows with a value unseen in training: {unseen * 100:.1f} %"
        )
        lines.append(f"  report: {self.report_dir / 'drift.html'} (and drift.json)")
        if self.drifted:
            lines.append(f"[red]drift[/red] in {', '.join(self.drifted_columns)}")
        return lines


def monitor_predictions(project: Project, rows: int | None = None, hours: float | None = None) -> DriftResult:
    """Compare the logged window with the training reference; write the reports.

    Args:
        rows: the last N logged predictions (default monitoring.window_rows, unless hours is given).
        hours: only predictions logged in the last H hours (default monitoring.window_hours).

    Raises:
        NotEnoughRows: the window holds fewer than monitoring.min_rows predictions.
    """
    settings = project.config.monitoring
    hours = hours or settings.window_hours
    rows = rows or (None if hours else settings.window_rows)
    contract = read_contract(project)
    current = read_log(project, contract, rows=rows, hours=hours)
    if len(current) < settings.min_rows:
        window = f"the last {hours:g} h" if hours else "the log"
        raise NotEnoughRows(
            f"{len(current)} predictions in {window} ({printable_url(project.prediction_log_url)}); at least "
            f"{settings.min_rows} are needed to judge drift — send traffic (make simulate) or lower monitoring.min_rows."
        )
    reference = read_reference(project, contract)
    columns = drift_by_column(current, reference, contract, project)
    features = [name for name in contract.feature_names if name in columns]
    drifted = [name for name in features if columns[name]["drifted"]]
    summary = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": len(current),
        "window": {
            "rows": rows,
            "hours": hours,
            "first": str(current["created_at"].min()),
            "last": str(current["created_at"].max()),
        },
        "model_versions": current["model_version"].value_counts().to_dict(),
        "reference_rows": len(reference),
        "drift_share": len(drifted) / len(features),
        "threshold": settings.drift_share,
        "drifted_columns": drifted,
        "columns": {name: columns[name] for name in features},
        "prediction": {**columns[PREDICTION], **describe_predictions(current, reference, contract)},
        "outside_training_rows_share": float(outside_training(current, contract).any(axis=1).mean()),
    }
    write_summary(project.monitoring_dir, summary)
    return DriftResult(
        rows=len(current),
        share=summary["drift_share"],
        threshold=settings.drift_share,
        drifted_columns=drifted,
        prediction_drifted=columns[PREDICTION]["drifted"],
        report_dir=project.monitoring_dir,
        summary=summary,
    )


def read_log(project: Project, contract: Contract, rows: int | None, hours: float | None) -> Any:
    """The logged window as a frame: created_at, model_version, one column per feature, prediction."""
    import pandas as pd
    import sqlalchemy as sa

    url = project.prediction_log_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise NotEnoughRows(
            f"No prediction log at {url} yet — serve the model (make serve) and send traffic."
        )
    table = PredictionTable(url)
    log = predictions.c
    query = sa.select(log.created_at, log.model_version, log.features, log.prediction)
    if hours:
        since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=hours)
        query = query.where(log.created_at >= since)
    query = query.order_by(log.id.desc()).limit(rows)
    try:
        with table.connect().connect() as connection:
            logged = connection.execute(query).all()
    finally:
        table.dispose()
    records = [row.features for row in logged]  # the values the model saw, by feature name
    features = pd.DataFrame.from_records(records, columns=contract.feature_names)
    frame = pd.DataFrame(
        {
            "created_at": [row.created_at for row in logged],
            "model_version": [row.model_version for row in logged],
            PREDICTION: [row.prediction for row in logged],
        }
    )
    return pd.concat([frame, align_types(features, contract)], axis=1)


def read_contract(project: Project) -> Contract:
    """The training data's contract (from `make data`: monitoring needs no model file)."""
    path = project.processed_dir / "schema.json"
    if not path.is_file():
        raise UserError(f'No data contract at {path} — run "make data" (or "make pipeline") first.')
    return Contract.load(path)


def read_reference(project: Project, contract: Contract) -> Any:
    """The training rows: the features, and the target as the reference for the predictions."""
    train = read_train(project.processed_dir / "train.parquet")
    reference = align_types(train[contract.feature_names].copy(), contract)
    reference[PREDICTION] = train[contract.target].to_numpy()
    return reference


def read_train(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise UserError(f'No training reference at {path} — run "make pipeline" first.')
    return pd.read_parquet(path)


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    """Write drift.json and a dated copy in history/ (the HTML, ~4 MB, is kept for the last run only)."""
    text = json.dumps(summary, indent=2, default=str) + "\n"
    history = folder / "history"
    history.mkdir(parents=True, exist_ok=True)
    stamp = summary["created"].replace(":", "").replace("-", "").replace("+0000", "Z")
    (history / f"drift-{stamp}.json").write_text(text, encoding="utf-8")
    path = folder / "drift.json"
    path.write_text(text, encoding="utf-8")
    return path
