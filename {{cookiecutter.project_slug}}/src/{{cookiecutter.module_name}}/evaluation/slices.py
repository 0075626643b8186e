"""Metrics per slice of the held-out rows, flagged when a slice is clearly worse than overall.

Sensitive columns are sliced too; only aggregates with counts leave here.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..contract import BOOLEAN, CATEGORICAL, MISSING_CATEGORY, NUMERIC, Contract
from ..metrics import compute_metrics, metric_directions

FEW_VALUES = 5  # a numeric feature with at most this many distinct values is sliced by value
QUARTILES = 4  # a sensitive number with more distinct values (an age) is sliced by quartile
MAX_SLICES = 20  # per column: the most frequent labels, the rest pooled as OTHER
OTHER = "(other)"


def slice_columns(contract: Contract, frame: pd.DataFrame) -> list[str]:
    """Return the columns to slice by: labels, flags, few-valued numbers, then sensitive columns."""
    few_valued = [name for name in contract.features_of_kind(NUMERIC) if frame[name].nunique() <= FEW_VALUES]
    sensitive = [name for name in contract.sensitive_columns if name in frame.columns]
    return [*contract.features_of_kind(CATEGORICAL, BOOLEAN), *few_valued, *sensitive]


def slice_labels(column: pd.Series) -> pd.Series:
    """Name the slice of each row: its value, or its quartile for a number with many values."""
    if column.dtype.kind in "iuf" and column.nunique() > FEW_VALUES:
        bins = pd.qcut(column, q=QUARTILES, duplicates="drop").astype(str)
        return bins.where(column.notna(), MISSING_CATEGORY)
    labels = column.map(label_of)
    frequent = labels.value_counts().index[: MAX_SLICES - 1]
    return labels.where(labels.isin(frequent), OTHER) if labels.nunique() > MAX_SLICES else labels


def label_of(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_CATEGORY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def score_slice(
    task: str, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: list[str] | None
) -> dict[str, float | None]:
    """Score one slice; macro F1 averages over the classes that occur in the slice."""
    from sklearn.metrics import f1_score

    with warnings.catch_warnings():
        # A slice often holds one class only; sklearn warns about that, and the metrics already cope.
        warnings.simplefilter("ignore", UserWarning)
        scores = compute_metrics(task, y_true, y_pred, proba, classes)
        if task == "classification":
            present = sorted(set(y_true))
            scores["f1_macro"] = float(
                f1_score(y_true, y_pred, average="macro", labels=present, zero_division=0)
            )
    return {name: (None if math.isnan(value) else value) for name, value in scores.items()}


def slice_metrics(
    groups: pd.DataFrame,
    y_true: pd.Series,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    contract: Contract,
    primary: str,
    gap: float = 0.1,
    min_rows: int = 10,
) -> list[dict[str, Any]]:
    """Score every slice of every column in `groups` (rows aligned with y_true), one entry each.

    `worse_by` is the primary metric's shortfall as a share of the overall value (negative = better),
    flagged above `gap`; a slice under `min_rows` rows is counted but not scored.
    """
    task, classes, truth = contract.task, contract.classes, y_true.to_numpy()
    overall = score_slice(task, truth, y_pred, proba, classes)[primary]
    greater = metric_directions(task)[primary]
    results = []
    for column in groups.columns:
        labels = slice_labels(groups[column].reset_index(drop=True))
        for value, rows in sorted(labels.groupby(labels, sort=False).indices.items()):
            scores = None
            if len(rows) >= min_rows:
                scores = score_slice(
                    task, truth[rows], y_pred[rows], None if proba is None else proba[rows], classes
                )
            mine = None if scores is None else scores[primary]
            worse_by = None
            if mine is not None and overall is not None:
                worse_by = (overall - mine if greater else mine - overall) / (abs(overall) or 1.0)
            results.append(
                {
                    "column": column,
                    "value": value,
                    "rows": len(rows),
                    "sensitive": column in contract.sensitive_columns,
                    "metrics": scores,
                    "primary": mine,
                    "worse_by": worse_by,
                    "flagged": worse_by is not None and worse_by > gap,
                }
            )
    return results
