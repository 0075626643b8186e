"""make profile: the raw data's quality, before cleaning, as Evidently HTML and a JSON summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.cli import main

from ..conftest import write_config


def test_profile_reports_types_missing_ranges_duplicates_and_quarantine_reasons(tmp_path: Path) -> None:
    rows = [
        {"size": str(i / 2), "colour": ["red", "blue"][i % 2], "label": ["yes", "no"][i % 3 > 0]}
        for i in range(40)
    ]
    rows += [
        rows[0],
        {"size": "abc", "colour": "red", "label": "no"},
        {"size": "3", "colour": None, "label": None},
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "input.csv", index=False)
    data = {"source": "csv", "path": "input.csv", "target": "label", "task": "classification"}
    assert main(["profile", "--config", str(write_config(tmp_path, data=data))]) == 0

    profile = json.loads((tmp_path / "reports" / "profile" / "profile.json").read_text(encoding="utf-8"))
    assert (tmp_path / "reports" / "profile" / "profile.html").stat().st_size > 10_000
    assert profile["rows"] == 43 and profile["duplicate_rows"] == 1
    assert profile["columns"]["colour"] == {"missing_share": 1 / 43, "type": "categorical", "distinct": 2}
    assert profile["quarantine"] == {
        "rows": 2,
        "by_reason": {"size: 'abc' is not a finite number": 1, "missing target": 1},
    }


def test_profile_of_data_that_does_not_fit_the_config_still_reports_it(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.5, None], "y": ["a", "b", "c"]}).to_csv(tmp_path / "input.csv", index=False)
    data = {"source": "csv", "path": "input.csv", "target": "price", "task": "regression"}
    assert main(["profile", "--config", str(write_config(tmp_path, data=data))]) == 0
    profile = json.loads((tmp_path / "reports" / "profile" / "profile.json").read_text(encoding="utf-8"))
    assert profile["columns"]["x"]["min"] == 1.0 and profile["columns"]["x"]["max"] == 2.5
    assert "data.target: column 'price' is not in the data" in profile["quarantine"]["not_counted"]
