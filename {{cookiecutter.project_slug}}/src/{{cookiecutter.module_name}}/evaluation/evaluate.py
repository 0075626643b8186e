"""Score the candidate and its baseline on the held-out split; write metrics, figures and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import model_files
from ..config import Project
from ..contract import Contract
from ..data.prepare import load_processed
from ..metrics import baseline_shortfalls, metric_directions, primary_metric
from ..training.manifest import predictions_digest, read_manifest, record_evaluation
from ..training.tracking_worker import Tracker
from ..training.train import score
from . import figures, model_card
from .importance import permutation_importance
from .risks import collect_facts
from .slices import slice_columns, slice_metrics


def evaluate_model(project: Project, tracker: Tracker | None = None) -> dict[str, Any]:
    """Run the evaluate stage and return the content of reports/metrics.json.

    The figures are drawn through the tracker (in `pipeline`, by its worker, which has matplotlib
    loaded by then) while the reports are written here.
    """
    from ..training import tracking

    tracker = tracker or Tracker(background=False)
    train, test, contract = load_processed(project)
    model, metadata = model_files.load_skops(project.candidate_dir, "model.skops")
    baseline, _ = model_files.load_skops(project.candidate_dir, "baseline.skops")
    X, y = test[contract.feature_names], test[contract.target]
    held_out = {"baseline": score(baseline, X, y, contract), "model": score(model, X, y, contract)}
    primary = primary_metric(contract.task, project.config.evaluation.primary_metric)
    importance = permutation_importance(model, X, y, primary, project.config.split.seed)
    figure_data = figures.figure_data(model, X, y, contract, importance)
    run_id = metadata.get("mlflow_run_id")
    tracker.submit(figures.draw_figures, project.figures_dir, figure_data)
    figure_paths = figures.figure_files(project.figures_dir, contract.task)
    tracker.submit(tracking.log_evaluation, project, run_id, {}, figure_paths)
    report = {
        "task": contract.task,
        "primary_metric": primary,
        "greater_is_better": metric_directions(contract.task)[primary],
        "beats_baseline": beats_baseline(contract.task, primary, held_out),
        "n_test": len(test),
        "model_version": metadata["version"],
        "baseline": held_out["baseline"],
        "model": held_out["model"],
        "cv": metadata["cv_metrics"],
        "slice_gap": project.config.evaluation.slice_gap,
        "slice_min_rows": project.config.evaluation.slice_min_rows,
        "slices": score_slices(project, model, train, test, contract, primary),
        "permutation_importance": importance,
        "data": collect_facts(project, train, test, contract),
    }
    metrics_path = write_report(project.reports_dir / "metrics.json", report)
    manifest_path = record_evaluation(
        project.candidate_dir, held_out, predictions_digest(model, X, contract.task)
    )
    card = render_reports(project, report, contract, metadata, read_manifest(manifest_path))
    tracker.submit(tracking.log_evaluation, project, run_id, held_out, [metrics_path, card])
    tracker.submit(tracking.log_files, project, run_id, [manifest_path])
    return report


def beats_baseline(task: str, primary: str, held_out: dict[str, dict[str, float]]) -> bool:
    return not baseline_shortfalls(task, primary, held_out["model"], held_out["baseline"])


def score_slices(
    project: Project, model: Any, train: pd.DataFrame, test: pd.DataFrame, contract: Contract, primary: str
) -> list[dict[str, Any]]:
    """Metrics per slice of the held-out rows (sensitive columns included, as aggregates only)."""
    X = test[contract.feature_names]
    proba = model.predict_proba(X) if contract.task == "classification" else None
    return slice_metrics(
        test[slice_columns(contract, train)],
        test[contract.target],
        np.asarray(model.predict(X)),
        proba,
        task=contract.task,
        classes=contract.classes,
        primary=primary,
        sensitive=tuple(contract.sensitive_columns),
        gap=project.config.evaluation.slice_gap,
        min_rows=project.config.evaluation.slice_min_rows,
    )


def write_report(path: Path, report: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return path


def render_reports(
    project: Project,
    report: dict[str, Any],
    contract: Contract,
    metadata: dict[str, Any],
    manifest: dict[str, Any],
) -> Path:
    """Write reports/model_card.md and refresh the README's results table (when it has the markers)."""
    card = project.reports_dir / "model_card.md"
    card.write_text(model_card.render_card(project, report, contract, metadata, manifest), encoding="utf-8")
    model_card.refresh_readme(project.root / "README.md", model_card.results_table(report, metadata))
    return card
