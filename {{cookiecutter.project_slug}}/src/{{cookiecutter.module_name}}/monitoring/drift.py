"""Compare logged inputs and predictions with the training data, column by column (Evidently).

Drift is judged per column with distance methods (Wasserstein for numbers, Jensen-Shannon for
labels): unlike p-value tests they do not flag a negligible shift just because the log is large.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ..contract import BOOLEAN, CATEGORICAL, MAX_LISTED_CATEGORIES, MISSING_CATEGORY, Contract
from ..errors import UserError
from ..project import Project

PREDICTION = "prediction"
# Where the drift report counts the labels the model does not encode one by one.
OTHER_LABEL = "(other)"


def align_types(frame: Any, contract: Contract) -> Any:
    """One type per kind on both sides: floats for numbers and flags, strings for labels."""
    for feature in contract.features:
        column = frame[feature.name]
        if feature.kind == CATEGORICAL:
            frame[feature.name] = column.where(column.notna(), MISSING_CATEGORY).astype(str)
        else:
            frame[feature.name] = column.astype(object).astype("float64")  # True/False/None → 1/0/NaN
    return frame


def drift_by_column(current: Any, reference: Any, contract: Contract, project: Project) -> dict[str, Any]:
    """Run Evidently's DataDriftPreset; write drift.html; return {column: method, score, drifted}."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    settings = project.config.monitoring
    labels = [f.name for f in contract.features if f.kind in (CATEGORICAL, BOOLEAN)]
    numbers = [name for name in contract.feature_names if name not in labels]
    (labels if contract.task == "classification" else numbers).append(PREDICTION)
    definition = DataDefinition(numerical_columns=numbers, categorical_columns=labels)
    columns = [*contract.feature_names, PREDICTION]
    keep = project.config.features.max_categories
    compared = [group_rare_labels(frame[columns].copy(), contract, keep) for frame in (current, reference)]
    if contract.task == "classification":
        compared = [frame.astype({PREDICTION: str}) for frame in compared]
    preset = DataDriftPreset(
        columns=columns,
        drift_share=settings.drift_share,
        num_method=settings.numeric_method,
        num_threshold=settings.numeric_threshold,
        cat_method=settings.categorical_method,
        cat_threshold=settings.categorical_threshold,
    )
    with warnings.catch_warnings():  # numpy's divide-by-zero on a constant column (correlations)
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(compared[0], data_definition=definition),
            reference_data=Dataset.from_pandas(compared[1], data_definition=definition),
        )
    project.monitoring_dir.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(project.monitoring_dir / "drift.html"))
    outside = outside_training(current, contract).mean()
    report = snapshot.dict()
    drifted = {}
    for test in report["tests"]:
        params = test["metric_config"]["params"]
        if params.get("type", "").endswith(":ValueDrift"):
            drifted[params["column"]] = test["status"] == "FAIL"
    results: dict[str, Any] = {}
    for metric in report["metrics"]:
        params = metric["config"]
        if params.get("type", "").endswith(":ValueDrift"):
            name = params["column"]
            results[name] = {"method": params.get("method"), "threshold": params.get("threshold"),
                             "score": float(metric["value"]), "drifted": drifted.get(name, False)}  # fmt: skip
            if name in outside.index:
                results[name]["outside_training_share"] = float(outside[name])
    return results


def group_rare_labels(frame: Any, contract: Contract, keep: int) -> Any:
    """Put labels beyond the `keep` most frequent in training into one OTHER_LABEL, as the model sees them.

    Hundreds of rare labels (tail numbers, cities) would each look shifted in a few hundred logged
    rows and flag drift on unchanged traffic; the model encodes them all alike anyway.
    """
    for feature in contract.features:
        if feature.kind == CATEGORICAL and len(feature.categories or []) > keep:
            known = {*(feature.categories or [])[:keep], MISSING_CATEGORY}
            column = frame[feature.name]
            frame[feature.name] = column.where(column.isin(known), OTHER_LABEL)
    return frame


def outside_training(current: Any, contract: Contract) -> Any:
    """A boolean frame: True where a value lies outside the training range or is an unseen label."""
    import pandas as pd

    flags = {}
    for feature in contract.features:
        column = current[feature.name]
        if feature.kind == CATEGORICAL:
            listed = feature.categories or []
            known = set(listed) | {MISSING_CATEGORY}
            complete = len(listed) < MAX_LISTED_CATEGORIES  # else the contract lists only the top labels
            flags[feature.name] = ~column.isin(known) if complete else column.isna()
        elif feature.minimum is not None and feature.maximum is not None:
            flags[feature.name] = column.notna() & ~column.between(feature.minimum, feature.maximum)
        else:
            flags[feature.name] = pd.Series(False, index=current.index)
    return pd.DataFrame(flags, index=current.index)


def reference_predictions(project: Project, train: Any, contract: Contract) -> Any:
    """The served model's predictions on the training rows: what the logged ones are compared with.

    Not the target itself: a regression model's predictions spread less than the target, which
    would read as drift on unchanged traffic. Without a champion in models/, or without its runtime
    installed (the `monitor` extra alone), the training target stands in.
    """
    from ..serving.runtime import load_predictor
    from .simulate import to_record

    try:
        predictor = load_predictor(project.models_dir)
    except (UserError, ImportError):
        return train[contract.target].to_numpy()
    records = [to_record(row, contract) for row in train[contract.feature_names].to_dict("records")]
    return predictor.predict(records).predictions


def describe_predictions(current: Any, reference: Any, contract: Contract) -> dict[str, Any]:
    """The prediction distribution now and in the reference: class shares, or mean, std and quantiles."""
    sides = {"current": current[PREDICTION], "reference": reference[PREDICTION]}
    if contract.task == "classification":
        return {side: values.astype(str).value_counts(normalize=True).round(4).to_dict()
                for side, values in sides.items()}  # fmt: skip
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    return {
        side: values.astype(float).describe(quantiles).drop("count").to_dict()
        for side, values in sides.items()
    }
