"""Derived features: edit `derive_features` to add a feature computed from other columns.

Training adds what it returns to the cleaned data (data/clean.py): numeric model inputs in the
contract. The API and `make predict` compute them from the fields sent, so callers never send them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..contract import CATEGORICAL, MISSING_CATEGORY, Contract
from ..errors import DataError

HOOK = "data/derived.py"


def derive_features(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the new features, by name: one array of numbers per feature, as long as the columns.

    `columns` holds each cleaned feature: numbers and 0/1 flags as floats (NaN when missing), labels
    as text ('missing' when missing), a date as `<name>_year`, `<name>_month`, `<name>_day_of_week`.
    Compute each row from its own values only (the API sends a batch of one); NaN where a value
    cannot be computed, which the model imputes as any missing number.
    """
    # A worked example, a ratio ({{ cookiecutter.dataset }} data):
    {%- if cookiecutter.dataset == "penguins" %}
    # top, bottom = columns["bill_length_mm"], columns["bill_depth_mm"]
    {%- elif cookiecutter.dataset == "breast_cancer" %}
    # top, bottom = columns["worst_radius"], columns["mean_radius"]
    {%- else %}
    # top, bottom = columns["s2"], columns["s3"]  # LDL over HDL cholesterol
    {%- endif %}
    # with np.errstate(divide="ignore", invalid="ignore"):
    #     ratio = np.where(bottom != 0, top / bottom, np.nan)  # NaN too where either is missing
    # return {"ratio": ratio}
    return {}


# Below: how training and serving call derive_features; nothing to edit.


def run_hook(columns: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    """Call derive_features; raise DataError, one line naming this file, when it fails or returns no numbers."""
    try:
        derived = derive_features(columns)
        arrays = {name: np.asarray(values, dtype=float).reshape(-1) for name, values in derived.items()}
    except Exception as exc:
        raise DataError(f"{HOOK}: derive_features failed ({type(exc).__name__}: {exc}) — fix it.") from None
    for name, values in arrays.items():
        if name in columns:
            raise DataError(
                f"{HOOK}: derive_features returns '{name}', already a column — give it a new name."
            )
        if len(values) != rows:
            raise DataError(
                f"{HOOK}: derive_features' '{name}' has {len(values)} values for {rows} rows — return one per row."
            )
    return arrays


def add_to_rows(rows: list[dict[str, Any]], contract: Contract) -> None:
    """Add the derived features to model rows (the API's, `make predict`'s) in place, so that the
    prediction log holds what the model saw; a label is text and a number a float, as in training."""
    if not contract.derived or not rows:
        return
    columns = {}
    for feature in contract.sent_features:
        values = [row[feature.name] for row in rows]  # None is NaN in a float array
        if feature.kind == CATEGORICAL:
            values = [MISSING_CATEGORY if value is None else str(value) for value in values]
        columns[feature.name] = np.array(values, dtype=object if feature.kind == CATEGORICAL else float)
    for name, values in run_hook(columns, len(rows)).items():
        for row, value in zip(rows, values.tolist(), strict=True):
            row[name] = None if math.isnan(value) else value


def check_hook(contract: Contract) -> None:
    """Fail at model load, not on a request, when derive_features no longer makes the model's features."""
    if not contract.derived:
        return
    row = {feature.name: feature.example for feature in contract.sent_features}  # a held-out row
    add_to_rows([row], contract)
    made = sorted(set(row) - {feature.name for feature in contract.sent_features})
    if made != sorted(contract.derived):
        raise DataError(
            f"{HOOK}: derive_features makes {made or 'nothing'}, but the model was trained on "
            f"{sorted(contract.derived)} — restore it, or retrain (make pipeline)."
        )
