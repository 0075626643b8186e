"""Draw the held-out figures into reports/figures/; confusion() and class_curves() compute what they
show (a test holds them against metrics.json), the draw_* functions only draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..contract import Contract

SIZE, DPI = (6, 5), 110
MAX_LEGEND = 12  # classes named in a legend
MAX_ANNOTATED = 25  # classes whose confusion-matrix cells show their counts
# One curve per class against the rest, on 0–1 axes: title, axis labels, dashed diagonal, legend
# place, each line's label (from its Curve) and line style.
CURVES = {
    "roc_curve": (
        "ROC curve, one class vs the rest (held-out data)",
        ("false positive rate", "true positive rate"),
        "chance",
        "lower right",
        "{c.name} (AUC = {c.summary:.2f})",
        {},
    ),
    "precision_recall": (
        "Precision–recall, one class vs the rest (held-out data)",
        ("recall", "precision"),
        None,
        "lower left",
        "{c.name} (AP = {c.summary:.2f})",
        {"drawstyle": "steps-post"},
    ),
    "calibration": (
        "Calibration: predicted probability vs observed share",
        ("mean predicted probability of the class", "observed share of the class"),
        "perfectly calibrated",
        "lower right",
        "{c.name}",
        {"marker": "s"},
    ),
}


class Curve(NamedTuple):
    """One class against the rest: the x and y of a curve and its one-number summary."""

    name: str
    x: np.ndarray
    y: np.ndarray
    summary: float = float("nan")


def figure_files(figures_dir: Path, task: str) -> list[Path]:
    """The PNG files draw_figures writes for a task (the model card links them before they exist)."""
    names = ["confusion_matrix", *CURVES] if task == "classification" else ["residuals"]
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
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = figure_files(figures_dir, contract.task)
    predicted = np.asarray(model.predict(X))
    if contract.task == "classification":
        draw_confusion_matrix(paths[0], *confusion(y, predicted, contract))
        for path, lines in zip(paths[1:-1], class_curves(model, X, y).values(), strict=True):
            draw_curves(path, lines)
    else:
        draw_residuals(paths[0], y.to_numpy(dtype=float), predicted.astype(float), contract.target)
    draw_importance(paths[-1], importance)
    return paths


def confusion(y: pd.Series, predicted: np.ndarray, contract: Contract) -> tuple[list[str], np.ndarray]:
    """Return the confusion matrix's labels (the contract's, then any other seen) and its counts."""
    from sklearn.metrics import confusion_matrix

    seen = set(map(str, y)) | set(map(str, predicted))
    labels = [str(c) for c in contract.classes or []] or sorted(seen)
    labels += sorted(seen - set(labels))
    return labels, confusion_matrix(y.astype(str), predicted.astype(str), labels=labels)


def class_curves(model: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, list[Curve]]:
    """Compute each CURVES figure's lines, one per class against the rest (binary: the positive class)."""
    from sklearn import metrics
    from sklearn.calibration import calibration_curve

    curves: dict[str, list[Curve]] = {name: [] for name in CURVES}
    proba, classes = model.predict_proba(X), list(enumerate(model.classes_))
    bins = int(np.clip(len(y) // 15, 3, 10))  # few rows → few bins, each still holding several
    for i, label in classes[1:] if len(classes) == 2 else classes:
        name, is_class, score = str(label), (y.astype(str) == str(label)).to_numpy(), proba[:, i]
        if is_class.any() and not is_class.all():
            fpr, tpr, _ = metrics.roc_curve(is_class, score)
            curves["roc_curve"].append(Curve(name, fpr, tpr, metrics.auc(fpr, tpr)))
        if is_class.any():
            precision, recall, _ = metrics.precision_recall_curve(is_class, score)
            ap = metrics.average_precision_score(is_class, score)
            curves["precision_recall"].append(Curve(name, recall, precision, ap))
        observed, mean_predicted = calibration_curve(is_class, score, n_bins=bins)
        curves["calibration"].append(Curve(name, mean_predicted, observed))
    return curves


def new_figure(size: tuple[float, float] = SIZE, **labels: Any) -> tuple[Any, Any]:
    """A figure of its own (no pyplot: files only, no global state) with its title and axis labels."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    ax = fig.subplots()
    ax.set(**labels)
    return fig, ax


def save(fig: Any, path: Path, fit_labels: bool = True) -> None:
    """Write the PNG, with margins sized to the tick labels (a layout pass) or, for 0–1 axes, fixed."""
    if fit_labels:
        fig.tight_layout()
    else:
        fig.subplots_adjust(left=0.12, right=0.96, bottom=0.11, top=0.92)
    fig.savefig(path)


def draw_confusion_matrix(path: Path, labels: list[str], counts: np.ndarray) -> None:
    n = len(labels)
    side = float(np.clip(2.5 + 0.35 * n, SIZE[0], 20.0))  # many classes: a bigger figure
    size, title = (side, side * SIZE[1] / SIZE[0]), "Confusion matrix (held-out data)"
    fig, ax = new_figure(size, title=title, xlabel="predicted label", ylabel="true label")
    image = ax.imshow(counts, interpolation="nearest", cmap="viridis")
    rotate = n > 4 or max((len(label) for label in labels), default=0) > 10
    font = "small" if n > 15 else None
    ax.set_xticks(
        range(n), labels, rotation=45 if rotate else 0, ha="right" if rotate else "center", fontsize=font
    )
    ax.set_yticks(range(n), labels, fontsize=font)
    if n <= MAX_ANNOTATED:
        middle = (counts.max() + counts.min()) / 2.0
        for (row, col), value in np.ndenumerate(counts):
            colour = image.cmap(0) if value > middle else image.cmap(255)  # readable on either end
            ax.text(col, row, f"{value:d}", ha="center", va="center", color=colour)
    save(fig, path)


def draw_curves(path: Path, lines: list[Curve]) -> None:
    """One line per class on 0–1 axes, as CURVES describes the figure named like the file."""
    title, (x_label, y_label), diagonal, legend_place, label, style = CURVES[path.stem]
    fig, ax = new_figure(title=title, xlabel=x_label, ylabel=y_label, xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    if diagonal:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label=diagonal)
    for curve in lines:
        ax.plot(curve.x, curve.y, label=label.format(c=curve), **style)
    if 0 < len(lines) <= MAX_LEGEND:
        ax.legend(loc=legend_place)
    elif lines:  # past MAX_LEGEND classes the curves speak for the spread
        ax.text(0.5, 0.02, f"{len(lines)} classes, one curve each", transform=ax.transAxes, ha="center")
    else:
        ax.text(0.5, 0.5, "no curve: the held-out rows hold no example of the class", ha="center")
    save(fig, path, fit_labels=False)


def draw_residuals(path: Path, actual: np.ndarray, predicted: np.ndarray, target: str) -> None:
    errors = actual - predicted
    title = f"Residuals (held-out data, RMSE {np.sqrt(np.mean(errors**2)):.3g})"
    fig, ax = new_figure(title=title, xlabel=f"predicted {target}", ylabel="actual − predicted")
    ax.scatter(predicted, errors, s=14, alpha=0.7)
    ax.axhline(0.0, color="grey", linewidth=1)
    save(fig, path)


def draw_importance(path: Path, importance: dict[str, dict[str, float]]) -> None:
    top = list(importance.items())[:15][::-1]  # the most important at the top
    x_label = "drop in the primary metric when the column is shuffled"
    fig, ax = new_figure(title="Permutation importance (held-out data)", xlabel=x_label)
    ax.barh([name for name, _ in top], [v["mean"] for _, v in top], xerr=[v["std"] for _, v in top])
    ax.axvline(0.0, color="grey", linewidth=1)
    save(fig, path)
