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
from ..serving.feedback import feedback
from ..serving.prediction_table import PredictionTable, predictions, printable_url
from .alerts import add_banner, alert
from .drift import (
    PREDICTION,
    align_types,
    describe_predictions,
    drift_by_column,
    outside_training,
    reference_predictions,
)
from .quality import ACTUAL, PROBABILITIES, live_quality

# The exit code of a failing `monitor`: the most serious failed check (drift.json lists them all).
EXIT_CODES = {"live_quality": 4, "prediction_drift": 3, "input_drift": 1}  # 2: too few rows


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

    @property
    def failed(self) -> list[str]:
        """The checks that failed, most serious first."""
        return [name for name in EXIT_CODES if self.summary["verdict"][name]]

    def describe(self) -> list[str]:
        """What the command prints (rich markup): the verdict, each drifted column, where the report is."""
        summary = self.summary
        lines = [
            f"{self.rows} logged predictions vs {summary['reference_rows']} training rows: "
            f"{len(self.drifted_columns)}/{len(summary['columns'])} features drifted "
            f"({self.share * 100:.0f} %; drift from {self.threshold * 100:.0f} %)"
        ]
        for name in self.drifted_columns:
            column = summary["columns"][name]
            lines.append(f"[red]drifted[/red] {name}: {column['method']} {column['score']:.3f}")
        verdict = "[red]drifted[/red]" if self.prediction_drifted else "stable"
        unseen = summary["outside_training_rows_share"]
        lines.append(
            f"predictions vs the model's on training rows: {verdict}; rows with a value unseen in training: {unseen * 100:.1f} %"
        )
        lines.append(f"report: {self.report_dir / 'drift.html'} (and drift.json)")
        quality = summary["live_quality"]
        for name, values in quality["metrics"].items():
            lines.append(f"live {name}: {values['live']:.4f} (held out {values['held_out']:.4f})")
        if quality["failed"] is None:
            lines.append(f"live quality not judged: {quality['labelled_rows']} labelled predictions in the window "
                         f"(needs {quality['min_labelled_rows']}; send labels with make feedback or POST /feedback)")  # fmt: skip
        if self.drifted:
            lines.append(f"[red]drift[/red] in {', '.join(self.drifted_columns)}")
        verdict = (
            ", ".join(f"[red]{name} failed[/red]" for name in self.failed)
            or "[green]all checks passed[/green]"
        )
        lines.append(f"verdict: {verdict}")
        return lines


def check_predictions(project: Project, rows: int | None, hours: float | None) -> tuple[list[str], int]:
    """Run the check, alert on a failure; return what `monitor` prints and its exit code (EXIT_CODES)."""
    try:
        result = monitor_predictions(project, rows, hours)
    except NotEnoughRows as exc:
        return [f"[yellow]too few rows:[/yellow] {exc}"], 2
    if not result.failed:
        return result.describe(), 0
    lines = [*result.describe(), alert(project.config.project_name, result.summary, result.failed)]
    return lines, EXIT_CODES[result.failed[0]]


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
        "live_quality": live_quality(current, contract, project),
    }
    summary["verdict"] = {"input_drift": summary["drift_share"] >= settings.drift_share,
                          "prediction_drift": bool(columns[PREDICTION]["drifted"]),
                          "live_quality": bool(summary["live_quality"]["failed"])}  # fmt: skip
    write_summary(project.monitoring_dir, summary)
    result = DriftResult(
        rows=len(current),
        share=summary["drift_share"],
        threshold=settings.drift_share,
        drifted_columns=drifted,
        prediction_drifted=columns[PREDICTION]["drifted"],
        report_dir=project.monitoring_dir,
        summary=summary,
    )
    add_banner(project.monitoring_dir / "drift.html", result.describe())
    return result


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
    labels = feedback.c
    joined = predictions.outerjoin(
        feedback, (labels.request_id == log.request_id) & (labels.row_index == log.row_index)
    )
    query = sa.select(log.created_at, log.model_version, log.features, log.prediction, log.probabilities,
                      labels.actual).select_from(joined)  # fmt: skip
    if hours:
        since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=hours)
        query = query.where(log.created_at >= since)
    query = query.order_by(log.id.desc()).limit(rows)
    try:
        feedback.create(table.connect(), checkfirst=True)  # no label sent yet: an empty table
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
            PROBABILITIES: [row.probabilities for row in logged],
            ACTUAL: [row.actual for row in logged],
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
    """The training rows: the features, and the served model's predictions on them (see drift.py)."""
    train = read_train(project.processed_dir / "train.parquet")
    reference = align_types(train[contract.feature_names].copy(), contract)
    reference[PREDICTION] = reference_predictions(project, train, contract)
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
