"""The pull-request comment: .github/scripts/compare_metrics.py's table of base vs branch metrics."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".github" / "scripts" / "compare_metrics.py"
compare = runpy.run_path(str(SCRIPT))  # the script's functions, by name


def report(**model: float) -> dict:
    return {
        "task": "regression",
        "primary_metric": "rmse",
        "n_test": 89,
        "beats_baseline": True,
        "model": model,
    }


def test_table_puts_the_primary_metric_first_and_judges_each_change() -> None:
    table = compare["comparison_table"](
        report(mae=40.0, rmse=55.0, r2=0.4), report(mae=42.0, rmse=50.0, r2=0.5), "main"
    )
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    assert rows == [
        "| **rmse** (primary) | 55.0000 | 50.0000 | -5.0000 better |",
        "| mae | 40.0000 | 42.0000 | +2.0000 worse |",
        "| r2 | 0.4000 | 0.5000 | +0.1000 better |",
    ]
    assert table.startswith(compare["MARKER"]), "the workflow finds its earlier comment by the marker"


def test_missing_base_report_shows_dashes_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    head = tmp_path / "head.json"
    head.write_text(json.dumps(report(mae=1.0, rmse=2.0, r2=0.5)), encoding="utf-8")
    assert compare["main"]([str(tmp_path / "missing.json"), str(head), "--base-name", "main"]) == 0
    out = capsys.readouterr().out
    assert "| **rmse** (primary) | — | 2.0000 | — |" in out
    assert "`main` has no reports/metrics.json" in out


def test_missing_branch_report_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"head.json does not exist — run `make pipeline`"):
        compare["main"]([str(tmp_path / "base.json"), str(tmp_path / "head.json")])
