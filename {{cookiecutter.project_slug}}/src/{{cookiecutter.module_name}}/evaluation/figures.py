"""Draw the held-out evaluation's figures as PNG files in reports/figures/.

Two steps, each testable alone: figure_data() computes every number a figure shows (the confusion
matrix, the curves) from the model's predictions; draw_figures() only draws them with matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..contract import Contract

CLASSIFICATION_FIGURES = ("confusion_matrix", "roc_curve", "precision_recall", "calibration")
REGRESSION_FIGURES = ("residuals",)
SIZE, DPI = (6, 5), 110
MAX_LEGEND = 12  # classes named in a legend
MAX_ANNOTATED = 25  # classes whose confusion-matrix cells show their counts


@dataclass
class Curve:
    """One class against the rest: the x and y of a curve and its one-number summary."""

    name: str
    x: np.ndarray
    y: np.ndarray
    summary: float = float("nan")


@dataclass
class FigureData:
    """Everything the figures show, as plain arrays."""

    task: str
    target: str
    importance: dict[str, dict[str, float]]
    labels: list[str] = field(default_factory=list)  # classification: the confusion matrix's order
    matrix: np.ndarray | None = None
    roc: list[Curve] = field(default_factory=list)
    precision_recall: list[Curve] = field(default_factory=list)
    calibration: list[Curve] = field(default_factory=list)
    actual: np.ndarray | None = None  # regression
    predicted: np.ndarray | None = None


def figure_files(figures_dir: Path, task: str) -> list[Path]:
    """The PNG files draw_figures writes for a task (the model card links them before they exist)."""
    names = CLASSIFICATION_FIGURES if task == "classification" else REGRESSION_FIGURES
    return [figures_dir / f"{name}.png" for name in (*names, "permutation_importance")]


def figure_data(
    model: Any, X: pd.DataFrame, y: pd.Series, contract: Contract, importance: dict[str, dict[str, float]]
) -> FigureData:
    """Compute what the task's figures show from the model's held-out predictions."""
    from sklearn import metrics
    from sklearn.calibration import calibration_curve

    data = FigureData(contract.task, contract.target, importance)
    predicted = np.asarray(model.predict(X))
    if contract.task != "classification":
        data.actual, data.predicted = y.to_numpy(dtype=float), predicted.astype(float)
        return data
    seen = set(map(str, y)) | set(map(str, predicted))
    data.labels = [str(c) for c in contract.classes or []] or sorted(seen)
    data.labels += sorted(seen - set(data.labels))  # a label the contract did not list still shows
    data.matrix = metrics.confusion_matrix(y.astype(str), predicted.astype(str), labels=data.labels)
    proba = model.predict_proba(X)
    # One curve per class (one-vs-rest); a binary task needs only the positive class.
    curves = [
        (str(label), (y.astype(str) == str(label)).to_numpy(), proba[:, i])
        for i, label in enumerate(model.classes_)
    ]
    curves = curves[1:] if len(curves) == 2 else curves
    bins = int(np.clip(len(y) // 15, 3, 10))  # few rows → few bins, each still holding several
    for name, is_class, score in curves:
        if is_class.any() and not is_class.all():
            fpr, tpr, _ = metrics.roc_curve(is_class, score)
            data.roc.append(Curve(name, fpr, tpr, metrics.auc(fpr, tpr)))
        if is_class.any():
            precision, recall, _ = metrics.precision_recall_curve(is_class, score)
            ap = metrics.average_precision_score(is_class, score)
            data.precision_recall.append(Curve(name, recall, precision, ap))
        observed, mean_predicted = calibration_curve(is_class, score, n_bins=bins)
        data.calibration.append(Curve(name, mean_predicted, observed))
    return data


def draw_figures(figures_dir: Path, data: FigureData) -> list[Path]:
    """Draw the task's diagnostic plots and the permutation importance; return the files."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    if data.task == "classification":
        matrix, roc, pr, calib, bars = figure_files(figures_dir, data.task)
        confusion_matrix(matrix, data)
        roc_curves(roc, data.roc)
        precision_recall_curves(pr, data.precision_recall)
        calibration(calib, data.calibration)
    else:
        plot, bars = figure_files(figures_dir, data.task)
        residuals(plot, data)
    importance_bars(bars, data.importance)
    return figure_files(figures_dir, data.task)


def _figure(title: str, size: tuple[float, float] = SIZE) -> tuple[Any, Any]:
    # A Figure of its own, not pyplot's: files only, no display, no global state to close.
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    ax = fig.subplots()
    ax.set_title(title)
    return fig, ax


def _legend(ax: Any, curves: list[Curve], loc: str) -> None:
    """A legend while it stays readable; past MAX_LEGEND classes the curves speak for the spread."""
    if 0 < len(curves) <= MAX_LEGEND:
        ax.legend(loc=loc)
    elif curves:
        ax.text(0.5, 0.02, f"{len(curves)} classes, one curve each", transform=ax.transAxes, ha="center")
    else:
        ax.text(0.5, 0.5, "no curve: the held-out rows hold no example of the class", ha="center")


def _save(fig: Any, path: Path, fit_labels: bool = False) -> Path:
    """Write the PNG. fit_labels: size the margins to the tick labels (names, or numbers of any
    size), which costs a layout pass; the curves, with 0–1 on both axes, use fixed margins."""
    if fit_labels:
        fig.tight_layout()
    else:
        fig.subplots_adjust(left=0.12, right=0.96, bottom=0.11, top=0.92)
    fig.savefig(path)
    return path


def confusion_matrix(path: Path, data: FigureData) -> Path:
    assert data.matrix is not None
    n = len(data.labels)
    side = float(np.clip(2.5 + 0.35 * n, SIZE[0], 20.0))  # many classes: a bigger figure
    fig, ax = _figure("Confusion matrix (held-out data)", (side, side * SIZE[1] / SIZE[0]))
    counts = data.matrix
    image = ax.imshow(counts, interpolation="nearest", cmap="viridis")
    ticks = np.arange(n)
    rotate = n > 4 or max((len(label) for label in data.labels), default=0) > 10
    font = "small" if n > 15 else None
    ax.set_xticks(
        ticks, data.labels, rotation=45 if rotate else 0, ha="right" if rotate else "center", fontsize=font
    )
    ax.set_yticks(ticks, data.labels, fontsize=font)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if n <= MAX_ANNOTATED:
        middle = (counts.max() + counts.min()) / 2.0
        for (row, col), value in np.ndenumerate(counts):
            colour = image.cmap(0) if value > middle else image.cmap(255)  # readable on either end
            ax.text(col, row, f"{value:d}", ha="center", va="center", color=colour)
    return _save(fig, path, fit_labels=True)


def _curves(
    title: str, curves: list[Curve], label: str, xy: tuple[str, str], diagonal: str | None, **style: Any
) -> tuple[Any, Any]:
    """One line per class on 0–1 axes, with a dashed diagonal when named (chance, perfect calibration)."""
    fig, ax = _figure(title)
    if diagonal:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label=diagonal)
    for curve in curves:
        ax.plot(curve.x, curve.y, label=label.format(c=curve), **style)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel(xy[0])
    ax.set_ylabel(xy[1])
    return fig, ax


def roc_curves(path: Path, curves: list[Curve]) -> Path:
    fig, ax = _curves(
        "ROC curve, one class vs the rest (held-out data)",
        curves,
        "{c.name} (AUC = {c.summary:.2f})",
        ("false positive rate", "true positive rate"),
        diagonal="chance",
    )
    _legend(ax, curves, "lower right")
    return _save(fig, path)


def precision_recall_curves(path: Path, curves: list[Curve]) -> Path:
    fig, ax = _curves(
        "Precision–recall, one class vs the rest (held-out data)",
        curves,
        "{c.name} (AP = {c.summary:.2f})",
        ("recall", "precision"),
        diagonal=None,
        drawstyle="steps-post",
    )
    _legend(ax, curves, "lower left")
    return _save(fig, path)


def calibration(path: Path, curves: list[Curve]) -> Path:
    fig, ax = _curves(
        "Calibration: predicted probability vs observed share",
        curves,
        "{c.name}",
        ("mean predicted probability of the class", "observed share of the class"),
        diagonal="perfectly calibrated",
        marker="s",
    )
    _legend(ax, curves, "lower right")
    return _save(fig, path)


def residuals(path: Path, data: FigureData) -> Path:
    assert data.actual is not None and data.predicted is not None
    errors = data.actual - data.predicted
    fig, ax = _figure(f"Residuals (held-out data, RMSE {np.sqrt(np.mean(errors**2)):.3g})")
    ax.scatter(data.predicted, errors, s=14, alpha=0.7)
    ax.axhline(0.0, color="grey", linewidth=1)
    ax.set_xlabel(f"predicted {data.target}")
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
