"""Metric definitions shared by cross-validation and held-out evaluation."""

from __future__ import annotations

import math

import numpy as np

# Metric name → True when greater is better.
CLASSIFICATION = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
}
REGRESSION = {"mae": False, "rmse": False, "r2": True}
DEFAULT_PRIMARY = {"classification": "f1_macro", "regression": "rmse"}


def metric_directions(task: str) -> dict[str, bool]:
    return CLASSIFICATION if task == "classification" else REGRESSION


def primary_metric(task: str, configured: str | None) -> str:
    return configured or DEFAULT_PRIMARY[task]


def compute_metrics(
    task: str, y_true, y_pred, proba=None, classes=None, names: list[str] | None = None
) -> dict[str, float]:
    """Score predictions (all the task's metrics, or `names`); probabilities (columns ordered as
    classes) feed ROC AUC and log loss, which are NaN without them."""
    from sklearn import metrics as m

    if proba is not None:
        proba = np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
    scorers = {
        "mae": lambda: m.mean_absolute_error(y_true, y_pred),
        "rmse": lambda: m.root_mean_squared_error(y_true, y_pred),
        "r2": lambda: m.r2_score(y_true, y_pred),
        "accuracy": lambda: m.accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: m.balanced_accuracy_score(y_true, y_pred),
        "f1_macro": lambda: m.f1_score(y_true, y_pred, average="macro", labels=classes, zero_division=0),
        "log_loss": lambda: math.nan if proba is None else m.log_loss(y_true, proba, labels=classes),
        "roc_auc": lambda: roc_auc(y_true, proba, classes),
    }
    return {name: float(scorers[name]()) for name in names or metric_directions(task)}


def roc_auc(y_true, proba, classes) -> float:
    """One-vs-rest ROC AUC; NaN without probabilities, or when a class is missing from y_true."""
    from sklearn.metrics import roc_auc_score

    present = set(y_true)
    if proba is None or len(present) < 2 or (len(classes) > 2 and len(present) < len(classes)):
        return math.nan
    if len(classes) == 2:
        return roc_auc_score(np.asarray(y_true) == classes[1], proba[:, 1])
    return roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)


def beats(task: str, metric: str, candidate: float, reference: float, margin: float = 0.0) -> bool:
    """True when candidate is better than reference by more than margin on this metric."""
    if math.isnan(candidate) or math.isnan(reference):
        return False
    greater = metric_directions(task)[metric]
    return candidate > reference + margin if greater else candidate < reference - margin


def baseline_metrics(task: str, primary: str) -> list[str]:
    """Metrics on which a model must beat the dummy baseline to count as having learned something.

    For classification, log loss too: a prior-predicting dummy scores about 1/k of one class's F1
    on macro F1, so a model with no signal that predicts several classes "beats" it there.
    """
    if task == "classification" and primary != "log_loss":
        return [primary, "log_loss"]
    return [primary]


def baseline_shortfalls(task: str, primary: str, model: dict[str, float], baseline: dict[str, float]) -> str:
    """The baseline metrics the model does not beat, with both values ('' when it beats them all)."""
    return ", ".join(
        f"{m} {model[m]:.4f} vs {baseline[m]:.4f}"
        for m in baseline_metrics(task, primary)
        if not beats(task, m, model[m], baseline[m])
    )
