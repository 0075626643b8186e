"""`tune`: a seeded, bounded Optuna search on the training rows, one nested MLflow run per trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.config import load_project

from .conftest import write_config


def test_tune_logs_each_trial_and_prints_how_to_adopt_the_best(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    config = write_config(tmp_path, cv={"folds": 2}, tuning={"trials": 2})
    assert main(["data", "--config", str(config)]) == 0
    assert main(["tune", "--config", str(config)]) == 0
    output = " ".join(capsys.readouterr().err.split())
    report = json.loads((tmp_path / "reports" / "tuning.json").read_text(encoding="utf-8"))
    assert len(report["trials"]) == 2
    assert "to adopt" in output and "params:" in output
    for name in report["best_params"]:
        assert name in output
    project = load_project(config)
    mlflow.set_tracking_uri(project.tracking_uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    parents = [run for run in runs if run.data.tags.get("stage") == "tune"]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and len(children) == 2


def test_tune_without_a_search_space_for_the_family_says_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    values = yaml.safe_load(config.read_text(encoding="utf-8"))
    values["tuning"]["search_space"] = {}
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    assert main(["tune", "--config", str(config)]) == 1
    assert "tuning.search_space has no entry for model.family" in capsys.readouterr().err


def test_tune_refuses_a_parameter_the_estimator_does_not_have(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, model={"family": "random_forest"})
    values = yaml.safe_load(config.read_text(encoding="utf-8"))
    values["tuning"]["search_space"]["random_forest"] = {"max_dept": {"low": 2, "high": 8}}
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    assert main(["tune", "--config", str(config)]) == 1
    assert "tuning.search_space.random_forest.max_dept is not a parameter of" in capsys.readouterr().err
