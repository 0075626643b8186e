"""`tune`: a seeded, bounded Optuna search on the training rows, one nested MLflow run per trial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.project import Project

from ..conftest import write_config


def test_tune_logs_each_trial_and_prints_how_to_adopt_the_best(
    challenged_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    assert main(["tune", "--trials", "2", "--config", str(challenged_project.config_path)]) == 0
    output = " ".join(capsys.readouterr().err.split())
    report = json.loads((challenged_project.reports_dir / "tuning.json").read_text(encoding="utf-8"))
    assert len(report["trials"]) == 2
    assert "to adopt" in output and "params:" in output
    for name in report["best_params"]:
        assert name in output
    mlflow.set_tracking_uri(challenged_project.tracking_uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    parent = next(run for run in runs if run.data.tags.get("stage") == "tune")
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2, "one nested run per trial"


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
