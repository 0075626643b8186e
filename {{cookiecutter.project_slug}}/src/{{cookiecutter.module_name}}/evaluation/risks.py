"""The data facts a model card reasons about, and the limitations derived from this run's numbers."""

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
    """Measure sizes, class balance, missing shares and held-out values the training rows never had."""
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
        notes.append("No `data.sensitive_columns` declared: performance across groups was not measured.")
    if facts["n_train"] < SMALL_DATA_ROWS:
        rows = f"{facts['n_train']} training, {facts['n_test']} held-out rows"
        notes.append(f"Small data ({rows}): metrics are noisy (CV std of {primary}: {fmt(cv['std'])}).")
    perfect = 1.0 if report["greater_is_better"] else 0.0
    if model == perfect and facts["n_test"] < SMALL_DATA_ROWS:
        notes.append(f"A perfect {primary} on {facts['n_test']} held-out rows: the test set is small, easy.")
    elif cv["std"] and abs(model - cv["mean"]) > 2 * cv["std"]:
        notes.append(f"Held-out {primary} is over 2 std from the CV mean: the split may be unrepresentative.")
    counts = facts["class_counts"] or {}
    if counts and max(counts.values()) / min(counts.values()) > IMBALANCE_RATIO:
        rare = min(counts, key=counts.get)
        share = counts[rare] / sum(counts.values()) * 100
        notes.append(f"Class imbalance: '{rare}' is {share:.0f}% of training rows; read balanced accuracy.")
    if small := [f"{s['column']}={s['value']}" for s in report["slices"] if s["metrics"] is None]:
        notes.append(f"Too few held-out rows to judge (< {report['slice_min_rows']}): {', '.join(small)}.")
    extrapolated = {name: f"{count} rows" for name, count in facts["out_of_range"].items()}
    unseen = {name: f"{count} rows" for name, count in facts["unseen_categories"].items()}
    missing = {name: f"{share * 100:.0f}%" for name, share in facts["missing_share"].items()}
    for columns, meaning in (
        (extrapolated, "Held-out values outside the training range (the model extrapolates)"),
        (unseen, "Held-out labels unseen in training (encoded as all zeros)"),
        (missing, "Missing values, imputed (numbers: median; labels: 'missing')"),
    ):
        if columns:
            notes.append(f"{meaning}: {', '.join(f'`{name}` ({value})' for name, value in columns.items())}.")
    importance = report["permutation_importance"]
    if unused := [f"`{name}`" for name, value in importance.items() if value["mean"] <= 0]:
        notes.append(f"No effect when shuffled alone (a correlated one can stand in): {', '.join(unused)}.")
    notes.append(describe_drift(drift))
    notes.append("Tested only on a random split of one source: no later period or other population.")
    return notes


def describe_drift(drift: dict[str, Any] | None) -> str:
    """Summarise reports/monitoring/drift.json (written by `monitor`), or say there is none yet."""
    if drift is None or drift.get("drift_share") is None:
        return "No drift report yet: serve the model, then `make monitor` compares live inputs with training."
    share, threshold = drift["drift_share"], drift.get("threshold", 1.0)
    verdict = "**drift detected**" if share >= threshold else "no drift beyond the threshold"
    columns = ", ".join(f"`{name}`" for name in drift.get("drifted_columns", [])) or "none"
    return (
        f"Latest drift report ({drift.get('created')}, {drift.get('rows')} live rows): {verdict}; "
        f"{share * 100:.0f}% of features drifted (threshold {threshold * 100:.0f}%); drifted: {columns}."
    )
