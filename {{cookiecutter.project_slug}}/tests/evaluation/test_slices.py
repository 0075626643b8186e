"""Slice metrics on hand-made frames: counts, flags and the rules for small and numeric slices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.evaluation.slices import MAX_SLICES, OTHER, slice_labels, slice_metrics

CLASSES = ["no", "yes"]


def contract(task: str = "classification", sensitive: tuple[str, ...] = ()) -> Contract:
    classes = CLASSES if task == "classification" else None
    return Contract("y", task, [], classes=classes, sensitive_columns=list(sensitive))


def classify(
    groups: pd.DataFrame, truth: list[str], predicted: list[str], sensitive: tuple[str, ...] = (), **options
) -> list[dict]:
    proba = np.array([[0.9, 0.1] if label == "no" else [0.1, 0.9] for label in predicted])
    return slice_metrics(
        groups,
        pd.Series(truth),
        np.array(predicted),
        proba,
        contract(sensitive=sensitive),
        "accuracy",
        **options,
    )


def test_slice_worse_than_overall_by_more_than_the_gap_is_flagged() -> None:
    # given: group "a" is always right, group "b" is right half of the time
    groups = pd.DataFrame({"region": ["a"] * 12 + ["b"] * 12})
    truth = ["yes", "no"] * 12
    predicted = truth[:12] + ["yes"] * 12
    # when
    by_value = {entry["value"]: entry for entry in classify(groups, truth, predicted, gap=0.1, min_rows=10)}
    # then: overall accuracy is 0.75; b (0.5) is 33% worse, a (1.0) is better
    assert by_value["b"]["rows"] == 12 and by_value["b"]["primary"] == 0.5
    assert by_value["b"]["flagged"] is True
    assert round(by_value["b"]["worse_by"], 3) == 0.333
    assert by_value["a"]["flagged"] is False and by_value["a"]["worse_by"] < 0


def test_slice_within_the_gap_is_not_flagged() -> None:
    groups = pd.DataFrame({"region": ["a"] * 10 + ["b"] * 10})
    truth = ["yes", "no"] * 10
    predicted = [*truth[:19], "yes"]  # one mistake in b: 0.9 vs overall 0.95, about 5% worse
    entries = classify(groups, truth, predicted, gap=0.1, min_rows=10)
    assert not any(entry["flagged"] for entry in entries)


def test_slices_smaller_than_min_rows_are_counted_but_not_scored() -> None:
    groups = pd.DataFrame({"region": ["a"] * 20 + ["tiny"] * 3})
    truth = ["yes"] * 23
    predicted = ["yes"] * 20 + ["no"] * 3
    tiny = next(e for e in classify(groups, truth, predicted, min_rows=10) if e["value"] == "tiny")
    assert tiny["rows"] == 3
    assert tiny["metrics"] is None and tiny["flagged"] is False, "3 rows are too few to judge"


def test_macro_f1_of_a_slice_averages_only_the_classes_it_contains() -> None:
    # a slice that holds only "yes" rows, all right, must not be dragged down by the absent class
    groups = pd.DataFrame({"island": ["x"] * 10 + ["y"] * 10})
    truth = ["yes"] * 10 + ["no", "yes"] * 5
    proba = np.tile([0.2, 0.8], (20, 1))
    entries = slice_metrics(groups, pd.Series(truth), np.array(truth), proba, contract(), "f1_macro")
    assert entries[0]["value"] == "x" and entries[0]["primary"] == 1.0


def test_sensitive_columns_are_marked_and_missing_values_get_their_own_slice() -> None:
    groups = pd.DataFrame({"sex": ["f"] * 10 + ["m"] * 10 + [None] * 10})
    truth = ["yes"] * 30
    entries = classify(groups, truth, truth, sensitive=("sex",))
    assert {e["value"] for e in entries} == {"f", "m", "missing"}
    assert all(e["sensitive"] for e in entries)


def test_many_valued_number_is_sliced_by_quartile_and_a_code_by_value() -> None:
    assert slice_labels(pd.Series(np.arange(100.0))).nunique() == 4
    assert set(slice_labels(pd.Series([1.0, 2.0, 1.0, 2.0]))) == {"1", "2"}


def test_a_column_with_many_labels_keeps_the_most_frequent_and_pools_the_rest() -> None:
    labels = slice_labels(pd.Series(["common"] * 50 + [f"rare{i}" for i in range(40)]))
    assert labels.nunique() == MAX_SLICES
    assert (labels == "common").sum() == 50 and OTHER in set(labels)


def test_regression_slice_with_larger_errors_is_flagged() -> None:
    groups = pd.DataFrame({"site": ["a"] * 10 + ["b"] * 10})
    truth = pd.Series(np.zeros(20))
    predicted = np.r_[np.full(10, 1.0), np.full(10, 3.0)]
    entries = slice_metrics(groups, truth, predicted, None, contract("regression"), "rmse", gap=0.1)
    flagged = [e["value"] for e in entries if e["flagged"]]
    assert flagged == ["b"], "rmse is an error: higher is worse"
