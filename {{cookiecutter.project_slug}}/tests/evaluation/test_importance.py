"""Permutation importance: the column the target depends on matters, noise does not, and it is seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from {{ cookiecutter.module_name }}.evaluation.importance import permutation_importance


def frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n)})


@pytest.mark.parametrize("metric", ["f1_macro", "log_loss", "roc_auc", "accuracy"])
def test_classification_signal_matters_and_noise_does_not(metric: str) -> None:
    X = frame()
    y = pd.Series(np.where(X["signal"] > 0, "yes", "no"))
    model = LogisticRegression().fit(X, y)
    importance = permutation_importance(model, X, y, metric, seed=0)
    assert list(importance) == ["signal", "noise"]
    assert importance["signal"]["mean"] > 0.1
    assert abs(importance["noise"]["mean"]) < 0.02


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_regression_an_error_that_grows_is_a_positive_drop(metric: str) -> None:
    X = frame()
    y = pd.Series(3 * X["signal"] + 0.1 * np.random.default_rng(1).normal(size=len(X)))
    model = LinearRegression().fit(X, y)
    importance = permutation_importance(model, X, y, metric, seed=0)
    assert importance["signal"]["mean"] > 1.0
    assert abs(importance["noise"]["mean"]) < 0.05


def test_same_seed_same_answer_and_another_seed_another() -> None:
    X = frame(60)
    y = pd.Series(np.where(X["signal"] > 0, "yes", "no"))
    model = LogisticRegression().fit(X, y)
    first = permutation_importance(model, X, y, "f1_macro", seed=3)
    assert permutation_importance(model, X, y, "f1_macro", seed=3) == first
    assert permutation_importance(model, X, y, "f1_macro", seed=4) != first
