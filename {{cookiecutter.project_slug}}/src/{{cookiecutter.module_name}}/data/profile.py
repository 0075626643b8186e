"""`make profile`: the raw data before any cleaning (Evidently's DataSummaryPreset), and the quarantine's reasons."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from ..project import Project
from .clean import REASON, clean
from .load import load_raw

# Evidently's dataset-level metrics, under the names profile.json gives them.
DATASET_COUNTS = {
    "RowCount": "rows",
    "DuplicatedRowCount": "duplicate_rows",
    "EmptyColumnsCount": "empty_columns",
    "ConstantColumnsCount": "constant_columns",
}


def profile_raw(project: Project) -> list[str]:
    """Write reports/profile/profile.html (Evidently's report) and profile.json; return what to print."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry stays off
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataSummaryPreset

    raw = load_raw(project)
    dataset = Dataset.from_pandas(raw, data_definition=DataDefinition())
    with warnings.catch_warnings():  # numpy's divide-by-zero on a constant column
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([DataSummaryPreset()]).run(current_data=dataset)
    folder = project.reports_dir / "profile"
    folder.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(folder / "profile.html"))
    definition = dataset.data_definition
    columns = {
        name: {
            "type": definition.get_column_type(name).name.lower(),  # as Evidently reads it
            "missing_share": float(raw[name].isna().mean()),
            "distinct": int(raw[name].nunique()),
        }
        for name in raw.columns
    }
    summary = summarise(json.loads(snapshot.json())["metrics"], columns)
    try:
        reasons = clean(raw, project).quarantine[REASON].value_counts()
        summary["quarantine"] = {"rows": int(reasons.sum()), "by_reason": reasons.astype(int).to_dict()}
    except DataError as exc:  # profiling comes before the config is right: say why, report the rest
        summary["quarantine"] = {"not_counted": str(exc)}
    (folder / "profile.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    return describe(summary, folder)


def summarise(metrics: list[dict[str, Any]], columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Add the dataset's counts and each number column's range from Evidently's results."""
    summary: dict[str, Any] = {"columns": columns}
    for metric in metrics:
        config, value = metric["config"], metric["value"]
        kind = config["type"].rsplit(":", 1)[-1]
        if kind in ("MinValue", "MaxValue") and pd.notna(value):  # NaN: a column with no values
            columns[config["column"]][kind.removesuffix("Value").lower()] = value
        elif kind in DATASET_COUNTS:
            summary[DATASET_COUNTS[kind]] = int(value)
        elif kind == "DatasetMissingValueCount":
            summary["missing_share"] = value["share"]
    return summary


def describe(summary: dict[str, Any], folder: Path) -> list[str]:
    quarantine = summary["quarantine"]
    lines = [
        f"{summary['rows']} rows, {len(summary['columns'])} columns, {summary['duplicate_rows']} duplicate rows, "
        f"{100 * summary['missing_share']:.1f} percent of values missing → {folder / 'profile.html'}, profile.json"
    ]
    if "not_counted" in quarantine:
        return [*lines, f"quarantine not counted: {quarantine['not_counted']}"]
    top = [f"{count} × {reason}" for reason, count in list(quarantine["by_reason"].items())[:5]]
    return [*lines, f"{quarantine['rows']} rows would be quarantined" + "".join(f"; {line}" for line in top)]
