"""Score the candidate and its baseline on the held-out split; write metrics, figures and the model card."""

from __future__ import annotations

import json
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
from . import figures
from .importance import permutation_importance
from .model_card import render_card
from .risks import collect_facts, describe_slice
from .slices import slice_columns, slice_metrics


def evaluate_model(project: Project) -> dict[str, Any]:
    """Run the evaluate stage, logged to the candidate's MLflow run; return reports/metrics.json's content."""
    train, test, contract = load_processed(project)
    model, metadata = model_files.load_skops(project.candidate_dir, "model.skops")
    if not metadata.get("mlflow_run_id"):
        raise UserError('The candidate has no MLflow run — run "make train" first.')
    X, y = test[contract.feature_names], test[contract.target]
    cfg, seed = project.config.evaluation, project.config.split.seed
    with tracking.mlflow_run(project, metadata["mlflow_run_id"]):
        held_out = score_held_out(project, X, y, contract)
        primary = held_out["primary_metric"]
        importance = permutation_importance(model, X, y, primary, seed)
        figure_paths = figures.draw_figures(project.figures_dir, model, X, y, contract, importance)
        proba = model.predict_proba(X) if contract.task == "classification" else None
        groups, predicted = test[slice_columns(contract, train)], np.asarray(model.predict(X))
        report = {
            **held_out,
            "model_version": metadata["version"],
            "cv": metadata["cv_metrics"],
            "slice_gap": cfg.slice_gap,
            "slice_min_rows": cfg.slice_min_rows,
            "slices": slice_metrics(
                groups, y, predicted, proba, contract, primary, cfg.slice_gap, cfg.slice_min_rows
            ),
            "permutation_importance": importance,
            "data": collect_facts(project, train, test, contract),
        }
        metrics_path = project.reports_dir / "metrics.json"
        metrics_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        scores = {who: held_out[who] for who in ("baseline", "model")}
        digest = predictions_digest(model, X, contract.task)
        manifest_path = record_evaluation(project.candidate_dir, scores, digest)
        card = project.reports_dir / "model_card.md"
        card_text = render_card(project, report, contract, metadata, read_manifest(manifest_path))
        card.write_text(card_text, encoding="utf-8")
        tracking.log_evaluation(scores, [*figure_paths, metrics_path, card])
        tracking.log_files([manifest_path])
    return report


def score_held_out(project: Project, X: pd.DataFrame, y: pd.Series, contract: Contract) -> dict[str, Any]:
    """Score the candidate and its baseline on the held-out rows; record the verdict in its model.json."""
    scores = {
        who: score(model_files.load_skops(project.candidate_dir, f"{who}.skops")[0], X, y, contract)
        for who in ("baseline", "model")
    }
    primary = primary_metric(contract.task, project.config.evaluation.primary_metric)
    verdict = {
        "task": contract.task,
        "primary_metric": primary,
        "greater_is_better": metric_directions(contract.task)[primary],
        "beats_baseline": not baseline_shortfalls(
            contract.task, primary, scores["model"], scores["baseline"]
        ),
        "n_test": len(y),
        **scores,
    }
    metadata = model_files.read_metadata(project.candidate_dir)
    model_files.write_metadata(project.candidate_dir, {**metadata, "held_out_metrics": verdict})
    return verdict


def describe_report(project: Project, report: dict[str, Any], max_flagged: int = 10) -> list[str]:
    """The verdict as the CLI prints it: against the baseline, flagged slices, where the card is."""
    primary, task = report["primary_metric"], report["task"]
    if report["beats_baseline"]:
        verdict = f"beats the dummy baseline on {', '.join(baseline_metrics(task, primary))}"
    else:
        missed = baseline_shortfalls(task, primary, report["model"], report["baseline"])
        verdict = f"[red]does not beat the dummy baseline[/red] on {missed}"
    lines = [f"the model {verdict}; reports in {project.reports_dir}"]
    flagged = [entry for entry in report["slices"] if entry["flagged"]]
    lines += [
        f"[yellow]slice flagged[/yellow]: {describe_slice(entry, primary)}" for entry in flagged[:max_flagged]
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
