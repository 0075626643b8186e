"""Score the baseline and the model on the held-out split; write metrics and figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import model_io
from .config import Project
from .data import load_processed
from .metrics import metric_directions, primary_metric
from .schema import Contract
from .train import score


def evaluate_model(project: Project) -> dict[str, Any]:
    """Run the evaluate stage and return the content of reports/metrics.json."""
    from . import tracking

    _, test, contract = load_processed(project)
    model, metadata = model_io.load_skops(project.models_dir, "model.skops")
    baseline, _ = model_io.load_skops(project.models_dir, "baseline.skops")
    X, y = test[contract.feature_names], test[contract.target]
    held_out = {"baseline": score(baseline, X, y, contract), "model": score(model, X, y, contract)}
    primary = primary_metric(contract.task, project.config.evaluation.primary_metric)
    greater = metric_directions(contract.task)[primary]
    report = {
        "task": contract.task,
        "primary_metric": primary,
        "greater_is_better": greater,
        "beats_baseline": _better(held_out["model"][primary], held_out["baseline"][primary], greater),
        "n_test": len(test),
        "model_version": metadata["version"],
        "baseline": held_out["baseline"],
        "model": held_out["model"],
        "cv": metadata["cv_metrics"],
    }
    project.reports_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = project.reports_dir / "metrics.json"
    metrics_path.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    figures = plot_figures(project, model, X, y, contract)
    tracking.log_evaluation(project, metadata.get("mlflow_run_id"), held_out, [metrics_path, *figures])
    return report


def _better(candidate: float, reference: float, greater: bool) -> bool:
    return bool(candidate > reference if greater else candidate < reference)


def plot_figures(
    project: Project, model: Any, X: pd.DataFrame, y: pd.Series, contract: Contract
) -> list[Path]:
    """Draw the confusion matrix (classification) or residual plot (regression) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    project.figures_dir.mkdir(parents=True, exist_ok=True)
    predicted = model.predict(X)
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    if contract.task == "classification":
        from sklearn.metrics import ConfusionMatrixDisplay

        ConfusionMatrixDisplay.from_predictions(y, predicted, labels=contract.classes, ax=ax, colorbar=False)
        ax.set_title("Confusion matrix (held-out data)")
        path = project.figures_dir / "confusion_matrix.png"
    else:
        residuals = y.to_numpy() - predicted
        ax.scatter(predicted, residuals, s=14, alpha=0.7)
        ax.axhline(0.0, color="grey", linewidth=1)
        ax.set_xlabel(f"predicted {contract.target}")
        ax.set_ylabel("actual − predicted")
        ax.set_title(f"Residuals (held-out data, RMSE {np.sqrt(np.mean(residuals**2)):.3g})")
        path = project.figures_dir / "residuals.png"
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return [path]
