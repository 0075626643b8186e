"""End to end: the pipeline writes every artifact and tracks one complete MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.metrics import beats
from {{ cookiecutter.module_name }}.model_files import TRUSTED_TYPES, load_skops, read_metadata
from {{ cookiecutter.module_name }}.project import Project


def test_pipeline_writes_every_artifact(trained_project: Project) -> None:
    root = trained_project.root
    for relative in [
        "data/processed/train.parquet",
        "data/processed/test.parquet",
        "data/processed/schema.json",
        "data/quarantine/quarantine.csv",
        "models/model.json",
        "models/model.skops",
        "models/baseline.skops",
        "reports/metrics.json",
        "mlflow.db",
    ]:
        assert (root / relative).is_file(), f"missing {relative}"
    assert list((root / "reports" / "figures").glob("*.png"))


def test_metrics_json_compares_model_with_baseline(trained_project: Project) -> None:
    report = json.loads((trained_project.reports_dir / "metrics.json").read_text())
    primary = report["primary_metric"]
    assert set(report["model"]) == set(report["baseline"])
    assert report["beats_baseline"] is True
    assert beats(report["task"], primary, report["model"][primary], report["baseline"][primary])


def test_mlflow_run_has_params_metrics_dataset_and_model(trained_project: Project) -> None:
    import mlflow

    run_id = read_metadata(trained_project.models_dir)["mlflow_run_id"]
    mlflow.set_tracking_uri(trained_project.tracking_uri)
    run = mlflow.get_run(run_id)
    assert run.data.params["model.family"] == trained_project.config.model.family
    assert any(name.startswith("model_cv_") for name in run.data.metrics)
    assert any(name.startswith("model_test_") for name in run.data.metrics), "evaluate logs to the same run"
    assert run.inputs.dataset_inputs, "the training dataset is logged"
    assert run.data.tags["data_digest"] == read_metadata(trained_project.models_dir)["data_digest"]
    logged = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert any(model.source_run_id == run_id for model in logged)


def test_the_champion_in_mlflow_is_a_skops_scikit_learn_model_that_predicts_like_the_export(
    trained_project: Project,
) -> None:
    import mlflow

    metadata = read_metadata(trained_project.models_dir)
    mlflow.set_tracking_uri(trained_project.tracking_uri)
    uri = f"models:/{trained_project.config.project_slug}@champion"
    test = pd.read_parquet(trained_project.processed_dir / "test.parquet")
    X = test[metadata["features"]]
    exported, _ = load_skops(trained_project.models_dir)
    expected = exported.predict(X)
    assert (mlflow.sklearn.load_model(uri).predict(X) == expected).all()
    assert (np.asarray(mlflow.pyfunc.load_model(uri).predict(X)) == expected).all()
    model = mlflow.models.Model.load(uri)
    flavor = model.flavors["sklearn"]
    assert flavor["serialization_format"] == "skops" and flavor["skops_trusted_types"] == TRUSTED_TYPES
    assert model.signature is not None and model.saved_input_example_info is not None
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    requirements = (local / "requirements.txt").read_text().split()
    assert any(line.startswith("scikit-learn==") for line in requirements), "pinned, not inferred"


def test_exported_model_predicts_the_held_out_split(trained_project: Project) -> None:
    model, metadata = load_skops(trained_project.models_dir)
    contract = Contract.load(trained_project.processed_dir / "schema.json")
    test = pd.read_parquet(trained_project.processed_dir / "test.parquet")
    predictions = model.predict(test[contract.feature_names])
    assert len(predictions) == len(test)
    assert metadata["features"] == contract.feature_names
