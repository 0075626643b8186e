"""Facts about the data and the model, and the limitations and risks that follow from them.

Every risk the model card lists is derived here from a number measured in this run, so the list
changes when the model or the data change.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..contract import CATEGORICAL, NUMERIC, Contract
from ..metrics import baseline_shortfalls
from ..project import Project

SMALL_DATA_ROWS = 1000
IMBALANCE_RATIO = 3.0


def fmt(value: Any) -> str:
    """Four decimals, or a dash for a metric that could not be computed."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}"


def collect_facts(
    project: Project, train: pd.DataFrame, test: pd.DataFrame, contract: Contract
) -> dict[str, Any]:
    """Measure the data facts the card reasons about: sizes, class balance, out-of-range rows."""
    out_of_range, unseen = {}, {}
    for feature in contract.features:
        column = test[feature.name]
        if feature.kind == NUMERIC and feature.minimum is not None:
            count = int(((column < feature.minimum) | (column > feature.maximum)).sum())
            if count:
                out_of_range[feature.name] = count
        elif feature.kind == CATEGORICAL and feature.categories:
            count = int((~column.astype(str).isin(feature.categories)).sum())
            if count:
                unseen[feature.name] = count
    y = train[contract.target]
    prepared = (project.processed_dir / "train.parquet").stat().st_mtime
    return {
        "source": project.config.data.path or project.config.data.source,
        "n_train": len(train),
        "n_test": len(test),
        "prepared": pd.Timestamp(prepared, unit="s", tz="UTC").isoformat(timespec="seconds"),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().items()}
        if contract.task == "classification"
        else None,
        "missing_share": {f.name: f.missing_share for f in contract.features if f.missing_share > 0},
        "out_of_range": out_of_range,
        "unseen_categories": unseen,
    }


def _slice_name(entry: dict[str, Any]) -> str:
    return f"{entry['column']}={entry['value']}"


def limitations(report: dict[str, Any], contract: Contract, drift: dict[str, Any] | None) -> list[str]:
    """Derive the card's limitations and risks from measured facts, most serious first."""
    primary, facts = report["primary_metric"], report["data"]
    model = report["model"][primary]
    notes = []
    if not report["beats_baseline"]:
        missed = baseline_shortfalls(report["task"], primary, report["model"], report["baseline"])
        notes.append(f"**The model does not beat the dummy baseline** on {missed or primary}: do not use it.")
    flagged = [s for s in report["slices"] if s["flagged"]]
    for entry in flagged:
        kind = "sensitive group" if entry["sensitive"] else "slice"
        notes.append(
            f"Weaker on the {kind} **{_slice_name(entry)}**: {primary} {fmt(entry['primary'])}, "
            f"{entry['worse_by'] * 100:.0f}% worse than overall ({entry['rows']} held-out rows)."
        )
    if not contract.sensitive_columns:
        notes.append(
            "No `data.sensitive_columns` are declared, so performance across groups of people "
            "(or other protected attributes) was not measured."
        )
    cv = report["cv"]["model"][primary]
    if facts["n_train"] < SMALL_DATA_ROWS:
        notes.append(
            f"Small data: {facts['n_train']} training and {facts['n_test']} held-out rows; held-out "
            f"metrics are noisy (cross-validation std of {primary}: {fmt(cv['std'])})."
        )
    perfect = 1.0 if report["greater_is_better"] else 0.0
    if model == perfect and facts["n_test"] < SMALL_DATA_ROWS:
        notes.append(
            f"A perfect held-out {primary} on {facts['n_test']} rows says more about a small, easy "
            "test set than about future data."
        )
    elif cv["std"] and abs(model - cv["mean"]) > 2 * cv["std"]:
        notes.append(
            f"Held-out {primary} ({fmt(model)}) is more than two standard deviations from the "
            f"cross-validation mean ({fmt(cv['mean'])}): the split may not be representative."
        )
    counts = facts["class_counts"] or {}
    if counts and max(counts.values()) / min(counts.values()) > IMBALANCE_RATIO:
        rare = min(counts, key=counts.get)
        notes.append(
            f"Class imbalance: '{rare}' is {(counts[rare] / sum(counts.values())) * 100:.0f}% of training rows; "
            "accuracy flatters the model — read balanced accuracy and the per-class curves."
        )
    small = [_slice_name(s) for s in report["slices"] if s["metrics"] is None]
    if small:
        notes.append(f"Too few held-out rows to judge (< {report['slice_min_rows']}): {', '.join(small)}.")
    if facts["out_of_range"]:
        listed = ", ".join(f"`{k}` ({v} rows)" for k, v in facts["out_of_range"].items())
        notes.append(f"Held-out values outside the training range in {listed}: the model extrapolates there.")
    if facts["unseen_categories"]:
        listed = ", ".join(f"`{k}` ({v} rows)" for k, v in facts["unseen_categories"].items())
        notes.append(f"Held-out labels unseen in training in {listed}: they are encoded as all zeros.")
    if facts["missing_share"]:
        listed = ", ".join(f"`{k}` ({v * 100:.0f}%)" for k, v in facts["missing_share"].items())
        notes.append(f"Missing values are imputed (numbers: median; labels: 'missing') in {listed}.")
    unused = [name for name, value in report["permutation_importance"].items() if value["mean"] <= 0]
    if unused:
        notes.append(
            f"No measurable effect on held-out {primary} when shuffled alone (correlated columns can stand "
            f"in for each other): {', '.join(f'`{n}`' for n in unused)}."
        )
    notes.append(describe_drift(drift))
    notes.append(
        "Validated only on a random split of the same source: no later period or other population was tested."
    )
    return notes


def describe_drift(drift: dict[str, Any] | None) -> str:
    """Summarise reports/monitoring/drift.json (written by `monitor`), or say there is none yet."""
    if drift is None or drift.get("drift_share") is None:
        return "No drift report yet: serve the model, then `make monitor` compares live inputs with the training data."
    share, threshold = drift["drift_share"], drift.get("threshold", 1.0)
    verdict = "**drift detected**" if share >= threshold else "no drift beyond the threshold"
    columns = ", ".join(f"`{name}`" for name in drift.get("drifted_columns", [])) or "none"
    return (
        f"Latest drift report ({drift.get('created')}, {drift.get('rows')} live rows): {verdict}; "
        f"{share * 100:.0f}% of features drifted (threshold {threshold * 100:.0f}%); drifted: {columns}."
    )
