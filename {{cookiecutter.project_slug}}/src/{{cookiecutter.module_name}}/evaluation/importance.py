"""Permutation importance on held-out data: how much the primary metric drops when a column is shuffled."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import REGRESSION, compute_metrics, metric_directions

REPEATS = 5
BATCH_ROWS = 50_000  # shuffled copies scored per model call, at most this many rows


def permutation_importance(
    model: Any, X: pd.DataFrame, y: pd.Series, metric: str, seed: int
) -> dict[str, dict[str, float]]:
    """Return column → mean and std of the metric's drop, most important first.

    Every column is shuffled REPEATS times (seeded). The shuffled copies are stacked and scored in
    as few model calls as fit in BATCH_ROWS rows: a scikit-learn Pipeline costs milliseconds per
    call whatever its size, so on a small test set this is one call instead of one per copy.
    """
    task = "regression" if metric in REGRESSION else "classification"
    sign = 1.0 if metric_directions(task)[metric] else -1.0  # a drop is always a loss
    scores = score_copies(model, shuffled_copies(X, seed), y, task, metric)
    drops = sign * (scores[0] - np.asarray(scores[1:]).reshape(len(X.columns), REPEATS))
    table = {
        column: {"mean": float(row.mean()), "std": float(row.std())}
        for column, row in zip(X.columns, drops, strict=True)
    }
    return dict(sorted(table.items(), key=lambda item: -item[1]["mean"]))


def shuffled_copies(X: pd.DataFrame, seed: int) -> Iterator[pd.DataFrame]:
    """X itself, then X with one column shuffled, REPEATS times per column (made one at a time)."""
    rng = np.random.RandomState(seed)
    yield X
    for column in X.columns:
        for _ in range(REPEATS):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(len(X))]
            yield shuffled


def score_copies(
    model: Any, copies: Iterator[pd.DataFrame], y: pd.Series, task: str, metric: str
) -> list[float]:
    """The metric on each copy (all of y's length), scored in batches of stacked copies; only one
    batch (at most BATCH_ROWS rows, or one copy) is in memory at a time."""
    per_call = max(1, BATCH_ROWS // max(len(y), 1))
    classes = [str(c) for c in getattr(model, "classes_", [])] or None
    truth = y.to_numpy()
    scores: list[float] = []
    while copies_now := list(islice(copies, per_call)):
        batch = pd.concat(copies_now, ignore_index=True)
        proba = model.predict_proba(batch) if metric in ("roc_auc", "log_loss") else None
        predicted = None if proba is not None else np.asarray(model.predict(batch))
        for index in range(len(batch) // len(y)):
            rows = slice(index * len(y), (index + 1) * len(y))
            part = (None, proba[rows]) if proba is not None else (predicted[rows], None)
            scores.append(compute_metrics(task, truth, part[0], part[1], classes, [metric])[metric])
    return scores
