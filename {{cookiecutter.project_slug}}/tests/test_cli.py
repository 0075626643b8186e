"""cli.py: each user mistake is one clear line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.cli import main

from .conftest import write_config


def run_data(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["data", "--config", str(config)])
    return code, capsys.readouterr().err.strip()


def csv_config(root: Path, frame: pd.DataFrame | None, target: str = "label", **data: object) -> Path:
    path = root / "input.csv"
    if frame is not None:
        frame.to_csv(path, index=False)
    return write_config(
        root, data={"source": "csv", "path": "input.csv", "target": target, "task": "classification", **data}
    )


def small_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], n),
            "label": rng.choice(["yes", "no"], n),
        }
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown_key", "unknown key 'data.trget'"),
        ("missing_target", "data.target: column 'price' is not in the data — available: x, colour, label"),
        ("empty_file", "input.csv is empty"),
        ("missing_path", "data.path: no file at"),
        ("unreadable_csv", "cannot read input.csv as CSV"),
        ("one_class", "has 1 usable class(es) — a classifier needs at least two"),
        ("empty_feature", "feature 'notes' is empty in every row — add it to data.drop_columns"),
        ("numeric_target_for_classification", "did you mean data.task: regression?"),
        (
            "ambiguous_name",
            "data.target: 'LABEL' matches 2 columns once names are snake-cased ('label' → label",
        ),
        ("constant_regression_target", "data.target: 'x' has 1 distinct value(s) (3.0) — nothing to learn"),
        ("identifier_target", "it looks like an identifier or free text, not a class to predict"),
        ("misspelt_target", "data.target: column 'color' is not in the data — did you mean 'colour'?"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_1(
    case: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = small_frame()
    if case == "unknown_key":
        config = write_config(tmp_path, data={"trget": "label"})
    elif case == "missing_target":
        config = csv_config(tmp_path, frame, target="price")
    elif case == "empty_file":
        config = csv_config(tmp_path, None)
        (tmp_path / "input.csv").write_text("")
    elif case == "missing_path":
        config = csv_config(tmp_path, None)
    elif case == "unreadable_csv":
        config = csv_config(tmp_path, None)
        (tmp_path / "input.csv").write_text("x,colour,label\n1,red,yes\n2,blue,no,extra,fields\n")
    elif case == "one_class":
        config = csv_config(tmp_path, frame.assign(label="yes"))
    elif case == "empty_feature":
        config = csv_config(tmp_path, frame.assign(notes=np.nan))
    elif case == "ambiguous_name":
        config = csv_config(tmp_path, frame.assign(**{"Label ": frame["label"]}), target="LABEL")
    elif case == "identifier_target":
        config = csv_config(tmp_path, frame.assign(label=[f"car {i % 50}" for i in range(len(frame))]))
    elif case == "misspelt_target":
        config = csv_config(tmp_path, frame, target="color")
    elif case == "constant_regression_target":
        config = csv_config(tmp_path, frame.assign(x=3.0), target="x", task="regression")
    else:
        config = csv_config(tmp_path, frame.assign(label=np.random.default_rng(2).normal(size=len(frame))))
    code, err = run_data(config, capsys)
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert expected in err
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_stage_before_its_input_says_which_command_to_run(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--config", str(config_path)]) == 1
    assert 'run "make data" first' in capsys.readouterr().err


def test_python_dash_m_entry_point_shows_help() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "pipeline" in result.stdout
