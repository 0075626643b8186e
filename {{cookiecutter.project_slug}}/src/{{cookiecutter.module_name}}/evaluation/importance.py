"""Permutation importance on held-out data: how much the primary metric drops when a column is shuffled."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics import REGRESSION, compute_metrics, metric_directions

REPEATS = 5


def permutation_importance(
    model: Any, X: pd.DataFrame, y: pd.Series, metric: str, seed: int
) -> dict[str, dict[str, float]]:
    """Return column → mean and std of the metric's drop over REPEATS seeded shuffles, most important first."""
    from sklearn import inspection

    task = "regression" if metric in REGRESSION else "classification"
    sign = 1.0 if metric_directions(task)[metric] else -1.0  # scikit-learn expects greater = better
    classes = [str(c) for c in getattr(model, "classes_", [])] or None

    def scorer(fitted: Any, X_shuffled: pd.DataFrame, y_true: pd.Series) -> float:
        proba = fitted.predict_proba(X_shuffled) if metric in ("roc_auc", "log_loss") else None
        predicted = None if proba is not None else fitted.predict(X_shuffled)
        return sign * compute_metrics(task, np.asarray(y_true), predicted, proba, classes, [metric])[metric]

    result = inspection.permutation_importance(
        model, X, y, scoring=scorer, n_repeats=REPEATS, random_state=seed
    )
    table = {
        column: {"mean": float(mean), "std": float(std)}
        for column, mean, std in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    }
    return dict(sorted(table.items(), key=lambda item: -item[1]["mean"]))
