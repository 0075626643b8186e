"""Score the candidate and its baseline on the held-out split; write metrics, figures and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import model_files
from ..contract import Contract
from ..data.prepare import load_processed
from ..errors import UserError
from ..metrics import baseline_metrics, baseline_shortfalls, metric_directions, primary_metric
from ..project import Project
from ..training import tracking
from ..training.manifest import predictions_digest, read_manifest, record_evaluation
from ..training.train import score
from . import figures, model_card
from .importance import permutation_importance
from .risks import collect_facts
from .slices import slice_columns, slice_metrics

# The part of the report that travels with the model in model.json (and `GET /model` returns).
HELD_OUT_KEYS = (
    "task",
    "primary_metric",
    "greater_is_better",
    "beats_baseline",
    "n_test",
    "model",
    "baseline",
)


def evaluate_model(project: Project) -> dict[str, Any]:
    """Run the evaluate stage, logged to the candidate's MLflow run; return reports/metrics.json's content."""
    train, test, contract = load_processed(project)
    model, metadata = model_files.load_skops(project.candidate_dir, "model.skops")
    baseline, _ = model_files.load_skops(project.candidate_dir, "baseline.skops")
    if not metadata.get("mlflow_run_id"):
        raise UserError('The candidate has no MLflow run — run "make train" first.')
    X, y = test[contract.feature_names], test[contract.target]
    primary = primary_metric(contract.task, project.config.evaluation.primary_metric)
    with tracking.mlflow_run(project, metadata["mlflow_run_id"]):
        held_out = {"baseline": score(baseline, X, y, contract), "model": score(model, X, y, contract)}
        importance = permutation_importance(model, X, y, primary, project.config.split.seed)
        figure_data = figures.figure_data(model, X, y, contract, importance)
        figure_paths = figures.draw_figures(project.figures_dir, figure_data)
        report = {
            **held_out_summary(contract.task, primary, held_out, len(test)),
            "model_version": metadata["version"],
            "cv": metadata["cv_metrics"],
            "slice_gap": project.config.evaluation.slice_gap,
            "slice_min_rows": project.config.evaluation.slice_min_rows,
            "slices": score_slices(project, model, train, test, contract, primary),
            "permutation_importance": importance,
            "data": collect_facts(project, train, test, contract),
        }
        metrics_path = write_report(project.reports_dir / "metrics.json", report)
        record_held_out(project.candidate_dir, report)
        manifest_path = record_evaluation(
            project.candidate_dir, held_out, predictions_digest(model, X, contract.task)
        )
        card = render_reports(project, report, contract, metadata, read_manifest(manifest_path))
        tracking.log_evaluation(held_out, [*figure_paths, metrics_path, card])
        tracking.log_files([manifest_path])
    return report


def held_out_summary(
    task: str, primary: str, held_out: dict[str, dict[str, float]], n_test: int
) -> dict[str, Any]:
    """The verdict on the held-out rows: both models' metrics, and whether the model beats the baseline."""
    return {
        "task": task,
        "primary_metric": primary,
        "greater_is_better": metric_directions(task)[primary],
        "beats_baseline": not baseline_shortfalls(task, primary, held_out["model"], held_out["baseline"]),
        "n_test": n_test,
        "baseline": held_out["baseline"],
        "model": held_out["model"],
    }


def record_held_out(candidate_dir: Path, report: dict[str, Any]) -> None:
    """Store the held-out verdict in the candidate's model.json: promotion carries it to models/."""
    metadata = model_files.read_metadata(candidate_dir)
    metadata["held_out_metrics"] = {key: report[key] for key in HELD_OUT_KEYS}
    model_files.write_metadata(candidate_dir, metadata)


def describe_report(project: Project, report: dict[str, Any], max_flagged: int = 10) -> list[str]:
    """The verdict as the CLI prints it: against the baseline, flagged slices, where the card is."""
    primary, task = report["primary_metric"], report["task"]
    if report["beats_baseline"]:
        verdict = f"beats the dummy baseline on {', '.join(baseline_metrics(task, primary))}"
    else:
        missed = baseline_shortfalls(task, primary, report["model"], report["baseline"])
        verdict = f"[red]does not beat the dummy baseline[/red] on {missed or primary}"
    lines = [f"the model {verdict}; reports in {project.reports_dir}"]
    flagged = [entry for entry in report["slices"] if entry["flagged"]]
    lines += [
        f"[yellow]slice flagged[/yellow]: {entry['column']}={entry['value']} {primary} {entry['primary']:.4f}, "
        f"{entry['worse_by'] * 100:.0f}% worse than overall ({entry['rows']} rows)"
        for entry in flagged[:max_flagged]
    ]
    if len(flagged) > max_flagged:
        lines.append(f"… and {len(flagged) - max_flagged} more flagged slices in the model card")
    lines.append(f"model card: {project.reports_dir / 'model_card.md'}")
    card = project.config.model_card
    if not card.describes(project.config.data.source):
        lines.append(
            f"[yellow]note[/yellow]: model_card in {project.config_path.name} was written for data.source "
            f"{card.written_for} — describe this data there, and set model_card.written_for: "
            f"{project.config.data.source}"
        )
    return lines


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
