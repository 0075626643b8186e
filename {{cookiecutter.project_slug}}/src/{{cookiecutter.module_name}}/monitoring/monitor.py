"""The check `make monitor` runs: the logged window against the training data, and a verdict.

Reads the last N logged predictions (or a time window) and their labels from the prediction log with
SQL, compares them with the training reference (data/processed/train.parquet; drift.py), scores the
labels (quality.py), and writes reports/monitoring/ (drift.html here, drift.json and trend in history.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

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
from .history import TREND, write_history
from .quality import ACTUAL, PROBABILITIES, live_quality

# The exit code of a failing `monitor`: the most serious failed check (drift.json lists them all).
EXIT_CODES = {"live_quality": 4, "prediction_drift": 3, "input_drift": 1}  # 2: too few rows
# Each logged prediction with its label, if one was sent (a label names its request id and row).
LABELLED_LOG = predictions.outerjoin(
    feedback,
    (feedback.c.request_id == predictions.c.request_id) & (feedback.c.row_index == predictions.c.row_index),
)


class NotEnoughRows(UserError):
    """Too few logged predictions to judge drift."""


def check_predictions(project: Project, rows: int | None, hours: float | None) -> tuple[list[str], int]:
    """Run the check, alert on a failure; return what `monitor` prints and its exit code (EXIT_CODES)."""
    try:
        summary = monitor_predictions(project, rows, hours)
    except NotEnoughRows as exc:
        return [f"[yellow]too few rows:[/yellow] {exc}"], 2
    failed = [name for name, bad in summary["verdict"].items() if bad]  # in EXIT_CODES' order
    if not failed:
        return describe(summary, project.monitoring_dir), 0
    lines = [*describe(summary, project.monitoring_dir), alert(project.config.project_name, summary, failed)]
    return lines, EXIT_CODES[failed[0]]


def monitor_predictions(
    project: Project, rows: int | None = None, hours: float | None = None
) -> dict[str, Any]:
    """Compare the last `rows` logged predictions (default monitoring.window_rows), or those of the last
    `hours` (monitoring.window_hours), with the training reference; write the reports; return drift.json's
    content. Raises NotEnoughRows below monitoring.min_rows predictions."""
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
    summary["verdict"] = {"live_quality": bool(summary["live_quality"]["failed"]),
                          "prediction_drift": bool(columns[PREDICTION]["drifted"]),
                          "input_drift": summary["drift_share"] >= settings.drift_share}  # fmt: skip
    write_history(project.monitoring_dir, summary)
    add_banner(project.monitoring_dir / "drift.html", describe(summary, project.monitoring_dir), TREND)
    return summary


def describe(summary: dict[str, Any], folder: Path) -> list[str]:
    """What `monitor` prints (rich markup): the verdict, each drifted column, where the reports are."""
    columns, drifted, verdict = summary["columns"], summary["drifted_columns"], summary["verdict"]
    lines = [
        f"{summary['rows']} logged predictions vs {summary['reference_rows']} training rows: "
        f"{len(drifted)}/{len(columns)} features drifted "
        f"({summary['drift_share'] * 100:.0f} %; drift from {summary['threshold'] * 100:.0f} %)"
    ]
    lines += [
        f"[red]drifted[/red] {name}: {columns[name]['method']} {columns[name]['score']:.3f}"
        for name in drifted
    ]
    lines += [
        f"predictions vs the model's on training rows: {'[red]drifted[/red]' if verdict['prediction_drift'] else 'stable'}; "
        f"rows with a value unseen in training: {summary['outside_training_rows_share'] * 100:.1f} %",
        f"report: {folder / 'drift.html'} (and drift.json; the trend over history/: {folder / TREND})",
    ]
    quality = summary["live_quality"]
    for name, values in quality["metrics"].items():
        lines.append(f"live {name}: {values['live']:.4f} (held out {values['held_out']:.4f})")
    if quality["failed"] is None:
        lines.append(f"live quality not judged: {quality['labelled_rows']} labelled predictions in the window "
                     f"(needs {quality['min_labelled_rows']}; send labels with make feedback or POST /feedback)")  # fmt: skip
    if verdict["input_drift"]:
        lines.append(f"[red]drift[/red] in {', '.join(drifted)}")
    failed = ", ".join(f"[red]{name} failed[/red]" for name, bad in verdict.items() if bad)
    return [*lines, f"verdict: {failed or '[green]all checks passed[/green]'}"]


def read_log(project: Project, contract: Contract, rows: int | None, hours: float | None) -> Any:
    """The logged window, newest first: created_at, model_version, prediction, probabilities, actual,
    then one column per feature (the values the model saw)."""
    import pandas as pd

    url = project.prediction_log_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise NotEnoughRows(
            f"No prediction log at {url} yet — serve the model (make serve) and send traffic."
        )
    log = predictions.c
    query = sa.select(log.created_at, log.model_version, log.prediction, log.probabilities, feedback.c.actual,
                      log.features)  # fmt: skip
    if hours:
        query = query.where(
            log.created_at >= datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=hours)
        )
    logged = read_labelled_log(project, query.order_by(log.id.desc()).limit(rows))
    frame = pd.DataFrame(
        logged, columns=["created_at", "model_version", PREDICTION, PROBABILITIES, ACTUAL, "features"]
    )
    features = pd.DataFrame.from_records(frame.pop("features").tolist(), columns=contract.feature_names)
    return pd.concat([frame, align_types(features, contract)], axis=1)


def read_labelled_log(project: Project, query: Any) -> list[Any]:
    """Run a select on LABELLED_LOG at the prediction log's URL (its first connect creates both tables)."""
    table = PredictionTable(project.prediction_log_url)
    try:
        with table.connect().connect() as connection:
            return connection.execute(query.select_from(LABELLED_LOG)).all()
    finally:
        table.dispose()


def read_contract(project: Project) -> Contract:
    """The training data's contract (from `make data`: monitoring needs no model file)."""
    path = project.processed_dir / "schema.json"
    if not path.is_file():
        raise UserError(f'No data contract at {path} — run "make data" (or "make pipeline") first.')
    return Contract.load(path)


def read_reference(project: Project, contract: Contract) -> Any:
    """The training rows: the features, and the served model's predictions on them (see drift.py)."""
    import pandas as pd

    path = project.processed_dir / "train.parquet"
    if not path.is_file():
        raise UserError(f'No training reference at {path} — run "make pipeline" first.')
    train = pd.read_parquet(path)
    reference = align_types(train[contract.feature_names].copy(), contract)
    reference[PREDICTION] = reference_predictions(project, train, contract)
    return reference
