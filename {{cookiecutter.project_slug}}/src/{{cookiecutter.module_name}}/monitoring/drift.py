"""Watch the served model: compare logged predictions with the training data (Evidently drift report).

`monitor_predictions` reads the last N logged rows (or a time window) from the prediction log with
SQL, compares each feature — and the predictions, with the training target — against the training
reference (data/processed/train.parquet) using Evidently's DataDriftPreset, counts values the
training data never had (out of range, unknown label), and writes reports/monitoring/drift.html,
drift.json and a dated copy of drift.json under history/. Drift is judged on the share of drifted
features against `monitoring.drift_share`. Distance methods (Wasserstein, Jensen-Shannon) are the
default: unlike p-value tests they do not flag a negligible shift just because the log is large.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..config import Project
from ..contract import BOOLEAN, CATEGORICAL, MAX_LISTED_CATEGORIES, MISSING_CATEGORY, Contract
from ..errors import UserError
from ..serving.prediction_table import PredictionStore, as_scored, printable_url

PREDICTION = "prediction"
# Where the drift report counts the labels the model does not encode one by one.
OTHER_LABEL = "(other)"


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
    store = PredictionStore(url)
    engine, table = store.connect()
    query = sa.select(table.c.created_at, table.c.model_version, table.c.features, table.c.prediction)
    if hours:
        since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=hours)
        query = query.where(table.c.created_at >= since)
    query = query.order_by(table.c.id.desc()).limit(rows)
    try:
        with engine.connect() as connection:
            logged = connection.execute(query).all()
    finally:
        store.dispose()
    kinds = [(feature.name, feature.kind) for feature in contract.features]
    records = [as_scored(json.loads(row.features) if isinstance(row.features, str) else row.features, kinds)
               for row in logged]  # fmt: skip
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


def align_types(frame: Any, contract: Contract) -> Any:
    """One type per kind on both sides: floats for numbers and flags, strings for labels."""
    for feature in contract.features:
        column = frame[feature.name]
        if feature.kind == CATEGORICAL:
            frame[feature.name] = column.where(column.notna(), MISSING_CATEGORY).astype(str)
        else:
            frame[feature.name] = column.astype(object).astype("float64")  # True/False/None → 1/0/NaN
    return frame


def drift_by_column(current: Any, reference: Any, contract: Contract, project: Project) -> dict[str, Any]:
    """Run Evidently's DataDriftPreset; write drift.html; return {column: method, score, drifted}."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    settings = project.config.monitoring
    labels = [f.name for f in contract.features if f.kind in (CATEGORICAL, BOOLEAN)]
    numbers = [name for name in contract.feature_names if name not in labels]
    (labels if contract.task == "classification" else numbers).append(PREDICTION)
    definition = DataDefinition(numerical_columns=numbers, categorical_columns=labels)
    columns = [*contract.feature_names, PREDICTION]
    keep = project.config.features.max_categories
    compared = [group_rare_labels(frame[columns].copy(), contract, keep) for frame in (current, reference)]
    if contract.task == "classification":
        compared = [frame.astype({PREDICTION: str}) for frame in compared]
    preset = DataDriftPreset(
        columns=columns,
        drift_share=settings.drift_share,
        num_method=settings.numeric_method,
        num_threshold=settings.numeric_threshold,
        cat_method=settings.categorical_method,
        cat_threshold=settings.categorical_threshold,
    )
    with warnings.catch_warnings():  # numpy's divide-by-zero on a constant column (correlations)
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(compared[0], data_definition=definition),
            reference_data=Dataset.from_pandas(compared[1], data_definition=definition),
        )
    project.monitoring_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(project.monitoring_dir / "drift.html"))
    outside = outside_training(current, contract).mean()
    report = snapshot.dict()
    results: dict[str, Any] = {}
    for metric in report["metrics"]:
        params = metric["config"]
        if params.get("type", "").endswith(":ValueDrift"):
            name = params["column"]
            results[name] = {
                "method": params.get("method"),
                "threshold": params.get("threshold"),
                "score": float(metric["value"]),
                "drifted": False,
            }
            if name in outside.index:
                results[name]["outside_training_share"] = float(outside[name])
    for test in report["tests"]:
        params = test["metric_config"]["params"]
        if params.get("type", "").endswith(":ValueDrift") and params["column"] in results:
            results[params["column"]]["drifted"] = test["status"] == "FAIL"
    return results


def group_rare_labels(frame: Any, contract: Contract, keep: int) -> Any:
    """Put labels beyond the `keep` most frequent in training into one OTHER_LABEL, as the model sees them.

    Hundreds of rare labels (tail numbers, cities) would each look shifted in a few hundred logged
    rows and flag drift on unchanged traffic; the model encodes them all alike anyway.
    """
    for feature in contract.features:
        if feature.kind == CATEGORICAL and len(feature.categories or []) > keep:
            known = {*(feature.categories or [])[:keep], MISSING_CATEGORY}
            column = frame[feature.name]
            frame[feature.name] = column.where(column.isin(known), OTHER_LABEL)
    return frame


def outside_training(current: Any, contract: Contract) -> Any:
    """A boolean frame: True where a value lies outside the training range or is an unseen label."""
    import pandas as pd

    flags = {}
    for feature in contract.features:
        column = current[feature.name]
        if feature.kind == CATEGORICAL:
            listed = feature.categories or []
            known = set(listed) | {MISSING_CATEGORY}
            complete = len(listed) < MAX_LISTED_CATEGORIES  # else the contract lists only the top labels
            flags[feature.name] = ~column.isin(known) if complete else column.isna()
        elif feature.minimum is not None and feature.maximum is not None:
            flags[feature.name] = column.notna() & ~column.between(feature.minimum, feature.maximum)
        else:
            flags[feature.name] = pd.Series(False, index=current.index)
    return pd.DataFrame(flags, index=current.index)


def describe_predictions(current: Any, reference: Any, contract: Contract) -> dict[str, Any]:
    """The prediction distribution now and the target distribution in training."""
    if contract.task == "classification":
        return {
            side: frame[PREDICTION].astype(str).value_counts(normalize=True).round(4).to_dict()
            for side, frame in (("current", current), ("reference", reference))
        }
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    return {
        side: {
            "mean": float(values.mean()),
            "std": float(values.std()),
            **{f"p{int(q * 100)}": float(values.quantile(q)) for q in quantiles},
        }
        for side, values in (
            ("current", current[PREDICTION].astype(float)),
            ("reference", reference[PREDICTION].astype(float)),
        )
    }


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
