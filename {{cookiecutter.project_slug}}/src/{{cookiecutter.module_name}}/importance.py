"""Permutation importance on held-out data: how much the primary metric drops when a column is shuffled."""

from __future__ import annotations

from typing import Any

import pandas as pd

# Primary metric → scikit-learn scorer. Error metrics are negated, so a drop is always a loss.
SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
    "mae": "neg_mean_absolute_error",
    "rmse": "neg_root_mean_squared_error",
    "r2": "r2",
}
REPEATS = 5


def permutation_importance(
    model: Any, X: pd.DataFrame, y: pd.Series, metric: str, seed: int
) -> dict[str, dict[str, float]]:
    """Return column → mean and std of the metric's drop, most important first."""
    from sklearn.inspection import permutation_importance as permute

    scorer = SCORERS[metric]
    if scorer == "roc_auc_ovr" and y.nunique() == 2:
        scorer = "roc_auc"
    result = permute(model, X, y, scoring=scorer, n_repeats=REPEATS, random_state=seed)
    table = {
        column: {"mean": float(mean), "std": float(std)}
        for column, mean, std in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    }
    return dict(sorted(table.items(), key=lambda item: -item[1]["mean"]))
