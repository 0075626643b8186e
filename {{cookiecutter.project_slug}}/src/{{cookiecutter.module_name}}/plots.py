"""Figures of the held-out evaluation, written as PNG to reports/figures/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .schema import Contract

CLASSIFICATION_FIGURES = ("confusion_matrix", "roc_curve", "precision_recall", "calibration")
REGRESSION_FIGURES = ("residuals",)


def figure_files(figures_dir: Path, task: str) -> list[Path]:
    """The PNG files draw_figures writes for a task (the model card links them before they exist)."""
    names = CLASSIFICATION_FIGURES if task == "classification" else REGRESSION_FIGURES
    return [figures_dir / f"{name}.png" for name in (*names, "permutation_importance")]


def draw_figures(
    figures_dir: Path,
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    contract: Contract,
    importance: dict[str, dict[str, float]],
) -> list[Path]:
    """Draw the task's diagnostic plots and the permutation importance; return the files."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed: files only
    figures_dir.mkdir(parents=True, exist_ok=True)
    if contract.task == "classification":
        proba = model.predict_proba(X)
        # One curve per class (one-vs-rest); a binary task needs only the positive class.
        curves = [
            (str(label), (y.astype(str) == str(label)).to_numpy(), proba[:, i])
            for i, label in enumerate(model.classes_)
        ]
        curves = curves[1:] if len(curves) == 2 else curves
        matrix, roc, pr, calib, bars = figure_files(figures_dir, contract.task)
        confusion_matrix(matrix, y, model.predict(X), contract.classes)
        roc_curves(roc, curves)
        precision_recall_curves(pr, curves)
        calibration(calib, curves)
    else:
        plot, bars = figure_files(figures_dir, contract.task)
        residuals(plot, y.to_numpy(), model.predict(X), contract.target)
    importance_bars(bars, importance)
    return figure_files(figures_dir, contract.task)


def _figure(title: str) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    ax.set_title(title)
    return fig, ax


def _save(fig: Any, path: Path, fit_labels: bool = False) -> Path:
    """Write the PNG. fit_labels: size the margins to the tick labels (names, or numbers of any
    size), which costs a layout pass; the curves, with 0–1 on both axes, use fixed margins."""
    import matplotlib.pyplot as plt

    if fit_labels:
        fig.tight_layout()
    else:
        fig.subplots_adjust(left=0.12, right=0.96, bottom=0.11, top=0.92)
    fig.savefig(path)
    plt.close(fig)
    return path


def confusion_matrix(path: Path, y: pd.Series, predicted: np.ndarray, classes: list[str] | None) -> Path:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = _figure("Confusion matrix (held-out data)")
    ConfusionMatrixDisplay.from_predictions(y, predicted, labels=classes, ax=ax, colorbar=False)
    return _save(fig, path, fit_labels=True)


def roc_curves(path: Path, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> Path:
    from sklearn.metrics import RocCurveDisplay

    fig, ax = _figure("ROC curve, one class vs the rest (held-out data)")
    for name, is_class, score in curves:
        if is_class.any() and not is_class.all():
            RocCurveDisplay.from_predictions(is_class, score, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    return _save(fig, path)


def precision_recall_curves(path: Path, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> Path:
    from sklearn.metrics import PrecisionRecallDisplay

    fig, ax = _figure("Precision–recall, one class vs the rest (held-out data)")
    for name, is_class, score in curves:
        if is_class.any():
            PrecisionRecallDisplay.from_predictions(is_class, score, name=name, ax=ax)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    return _save(fig, path)


def calibration(path: Path, curves: list[tuple[str, np.ndarray, np.ndarray]]) -> Path:
    from sklearn.calibration import CalibrationDisplay

    fig, ax = _figure("Calibration: predicted probability vs observed share")
    bins = int(np.clip(len(curves[0][1]) // 15, 3, 10))  # few rows → few bins, each still holding several
    for name, is_class, score in curves:
        CalibrationDisplay.from_predictions(is_class, score, n_bins=bins, name=name, ax=ax)
    ax.set_xlabel("mean predicted probability of the class")
    ax.set_ylabel("observed share of the class")
    return _save(fig, path)


def residuals(path: Path, actual: np.ndarray, predicted: np.ndarray, target: str) -> Path:
    errors = actual - predicted
    fig, ax = _figure(f"Residuals (held-out data, RMSE {np.sqrt(np.mean(errors**2)):.3g})")
    ax.scatter(predicted, errors, s=14, alpha=0.7)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xlabel(f"predicted {target}")
    ax.set_ylabel("actual − predicted")
    return _save(fig, path, fit_labels=True)


def importance_bars(path: Path, importance: dict[str, dict[str, float]]) -> Path:
    top = list(importance.items())[:15]
    fig, ax = _figure("Permutation importance (held-out data)")
    names = [name for name, _ in top][::-1]
    ax.barh(names, [v["mean"] for _, v in top][::-1], xerr=[v["std"] for _, v in top][::-1], color="tab:blue")
    ax.axvline(0.0, color="grey", linewidth=1)
    ax.set_xlabel("drop in the primary metric when the column is shuffled")
    return _save(fig, path, fit_labels=True)
