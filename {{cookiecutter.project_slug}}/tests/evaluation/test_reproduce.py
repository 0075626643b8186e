"""The run manifest records what a run depends on, and `reproduce` proves (or refutes) a re-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.evaluation.reproduce import ReproduceError, reproduce
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.project import Project
from {{ cookiecutter.module_name }}.training.manifest import config_digest


def test_manifest_records_code_data_config_seed_and_versions(trained_project: Project) -> None:
    manifest = json.loads((trained_project.models_dir / "manifest.json").read_text(encoding="utf-8"))
    metadata = read_metadata(trained_project.models_dir)
    assert manifest["data_digest"] == metadata["data_digest"]
    assert manifest["config_digest"] == config_digest(manifest["config"])
    assert manifest["seed"] == trained_project.config.split.seed
    assert {"scikit-learn", "numpy", "pandas"} <= set(manifest["packages"])
    assert {"git_sha", "git_dirty", "lock_digest", "python"} <= set(manifest)
    assert (
        manifest["evaluation"]["metrics"]["model"]
        == json.loads((trained_project.reports_dir / "metrics.json").read_text(encoding="utf-8"))["model"]
    )


def test_manifest_is_logged_with_the_run(trained_project: Project) -> None:
    import mlflow

    mlflow.set_tracking_uri(trained_project.tracking_uri)
    run_id = read_metadata(trained_project.models_dir)["mlflow_run_id"]
    assert "manifest.json" in {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}


def test_reproduce_passes_for_the_champion(
    trained_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reproduce", "--config", str(trained_project.config_path)]) == 0
    output = capsys.readouterr().err
    for check in ("data digest identical", "held-out metrics identical", "test predictions identical"):
        assert check in output


def test_reproduce_fails_loudly_when_the_recorded_seed_was_changed(
    trained_project: Project, tmp_path: Path
) -> None:
    manifest = json.loads((trained_project.models_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["config"]["split"]["seed"] += 1
    tampered = tmp_path / "manifest.json"
    tampered.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ReproduceError) as failure:
        reproduce(trained_project, tampered)
    message = str(failure.value)
    assert "NOT reproduced" in message
    assert "test predictions differ" in message and "data digest" in message
    assert "the manifest was edited" in message
