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
            out_of_range[feature.name] = int(((column < feature.minimum) | (column > feature.maximum)).sum())
        elif feature.kind == CATEGORICAL and feature.categories:
            unseen[feature.name] = int((~column.astype(str).isin(feature.categories)).sum())
    prepared = (project.processed_dir / "train.parquet").stat().st_mtime
    classes = train[contract.target].value_counts() if contract.task == "classification" else None
    return {
        "source": project.config.data.path or project.config.data.source,
        "n_train": len(train),
        "n_test": len(test),
        "prepared": pd.Timestamp(prepared, unit="s", tz="UTC").isoformat(timespec="seconds"),
        "class_counts": None if classes is None else {str(k): int(v) for k, v in classes.items()},
        "missing_share": {f.name: f.missing_share for f in contract.features if f.missing_share > 0},
        "out_of_range": {name: count for name, count in out_of_range.items() if count},
        "unseen_categories": {name: count for name, count in unseen.items() if count},
    }


def describe_slice(entry: dict[str, Any], primary: str) -> str:
    """A flagged slice in one line: which rows, its primary metric, how much worse than overall."""
    return (
        f"{entry['column']}={entry['value']}: {primary} {fmt(entry['primary'])}, "
        f"{entry['worse_by'] * 100:.0f}% worse than overall ({entry['rows']} held-out rows)"
    )


def listed(counts: dict[str, Any], unit: str = " rows") -> str:
    return ", ".join(f"`{name}` ({value}{unit})" for name, value in counts.items())


def limitations(report: dict[str, Any], contract: Contract, drift: dict[str, Any] | None) -> list[str]:
    """Derive the card's limitations and risks from measured facts, most serious first."""
    primary, facts = report["primary_metric"], report["data"]
    model, cv = report["model"][primary], report["cv"]["model"][primary]
    notes = []
    if not report["beats_baseline"]:
        missed = baseline_shortfalls(report["task"], primary, report["model"], report["baseline"])
        notes.append(f"**The model does not beat the dummy baseline** on {missed}: do not use it.")
    for entry in report["slices"]:
        if entry["flagged"]:
            kind = "sensitive group" if entry["sensitive"] else "slice"
            notes.append(f"Weaker on the {kind} {describe_slice(entry, primary)}.")
    if not contract.sensitive_columns:
        notes.append(
            "No `data.sensitive_columns` are declared, so performance across groups of people "
            "(or other protected attributes) was not measured."
        )
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
    if small := [f"{s['column']}={s['value']}" for s in report["slices"] if s["metrics"] is None]:
        notes.append(f"Too few held-out rows to judge (< {report['slice_min_rows']}): {', '.join(small)}.")
    if facts["out_of_range"]:
        notes.append(
            f"Held-out values outside the training range in {listed(facts['out_of_range'])}: "
            "the model extrapolates there."
        )
    if facts["unseen_categories"]:
        notes.append(
            f"Held-out labels unseen in training in {listed(facts['unseen_categories'])}: "
            "they are encoded as all zeros."
        )
    if facts["missing_share"]:
        shares = {name: f"{share * 100:.0f}" for name, share in facts["missing_share"].items()}
        notes.append(
            f"Missing values are imputed (numbers: median; labels: 'missing') in {listed(shares, '%')}."
        )
    if unused := [
        f"`{name}`" for name, value in report["permutation_importance"].items() if value["mean"] <= 0
    ]:
        notes.append(
            f"No measurable effect on held-out {primary} when shuffled alone (correlated columns can stand "
            f"in for each other): {', '.join(unused)}."
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
