"""Inline MLflow tracking: one run per training, and a failure in logging leaves a FAILED run, nothing served."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.project import Project, load_project

from ..conftest import write_config


def run_statuses(project: Project) -> list[str]:
    import mlflow

    mlflow.set_tracking_uri(project.tracking_uri)
    experiment = mlflow.get_experiment_by_name(project.config.tracking.experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    return [run.info.status for run in runs]


def test_the_run_logs_the_config_as_dotted_params_without_sensitive_columns(trained_project: Project) -> None:
    import mlflow

    mlflow.set_tracking_uri(trained_project.tracking_uri)
    experiment = mlflow.get_experiment_by_name(trained_project.config.tracking.experiment)
    (run,) = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert run.data.params["data.task"] == trained_project.config.data.task
    assert run.data.params["cv.folds"] == str(trained_project.config.cv.folds)
    assert not [key for key in run.data.params if key.startswith("data.sensitive")]


def test_a_pipeline_leaves_one_finished_run(trained_project: Project) -> None:
    assert run_statuses(trained_project) == ["FINISHED"]


def test_a_failed_pipeline_reports_one_line_and_marks_its_run_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, model={"family": "linear", "params": {"nope": 1}})
    assert main(["pipeline", "--config", str(path)]) == 1, "fails inside the training run"
    assert "model.params.nope is not a parameter of" in capsys.readouterr().err
    assert run_statuses(load_project(path)) == ["FAILED"]


def fail_to_log(*_: object, **__: object) -> None:
    raise OSError(28, "No space left on device")


def test_a_failure_in_a_later_stage_marks_the_run_failed_and_promotes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """evaluate reopens the training run: a failure there (here: drawing the figures) fails it."""
    import multiprocessing

    from {{ cookiecutter.module_name }}.evaluation import figures

    def refuse_to_fork(*_: object) -> None:
        raise AssertionError("the pipeline started a second process")

    monkeypatch.setattr(multiprocessing.Process, "start", refuse_to_fork)  # one process, all inline
    monkeypatch.setattr(figures, "draw_figures", fail_to_log)
    path = write_config(tmp_path, cv={"folds": 2})
    with pytest.raises(OSError, match="No space left on device"):
        main(["pipeline", "--config", str(path)])
    project = load_project(path)
    assert run_statuses(project) == ["FAILED"]
    assert (project.candidate_dir / "model.json").is_file(), "the stages before it ran"
    assert not (project.models_dir / "model.json").exists(), "nothing was promoted to models/"
