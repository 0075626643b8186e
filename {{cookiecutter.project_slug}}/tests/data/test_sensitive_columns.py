"""A sensitive column is scored in slices and nowhere else: not a feature, not a param, not an artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.model_files import load_skops
from {{ cookiecutter.module_name }}.project import Project


def test_sensitive_column_is_kept_beside_the_data_for_slices_only(challenged_project: Project) -> None:
    column = challenged_project.config.data.sensitive_columns[0]
    contract = Contract.load(challenged_project.processed_dir / "schema.json")
    assert column in contract.sensitive_columns and column not in contract.feature_names
    assert column in pd.read_parquet(challenged_project.processed_dir / "test.parquet").columns
    model, metadata = load_skops(challenged_project.models_dir)
    assert column not in metadata["features"] and column not in list(model.feature_names_in_)
    report = json.loads((challenged_project.reports_dir / "metrics.json").read_text(encoding="utf-8"))
    assert {entry["column"] for entry in report["slices"] if entry["sensitive"]} == {column}
    assert column not in report["permutation_importance"]


def test_sensitive_column_never_reaches_mlflow_params_inputs_or_artifacts(
    challenged_project: Project, tmp_path: Path
) -> None:
    import mlflow

    column = challenged_project.config.data.sensitive_columns[0]
    mlflow.set_tracking_uri(challenged_project.tracking_uri)
    experiment = mlflow.get_experiment_by_name(challenged_project.config.tracking.experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    trained = [run for run in runs if not {"mlflow.parentRunId", "stage"} & set(run.data.tags)]
    assert len(trained) == 2, "champion and challenger training runs (tune runs are checked too)"
    for run in runs:
        for key, value in run.data.params.items():
            assert column not in key and f"'{column}'" not in value, f"param {key}={value}"
        for dataset in run.inputs.dataset_inputs:
            names = [spec["name"] for spec in json.loads(dataset.dataset.schema)["mlflow_colspec"]]
            assert column not in names, "the logged training dataset"
        local = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id, dst_path=str(tmp_path / run.info.run_id)
            )
        )
        for path in local.rglob("*"):
            if path.suffix in {".csv", ".parquet"}:
                frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
                assert column not in frame.columns, f"row-level artifact {path.name}"
    for logged in mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    ):
        inputs = mlflow.models.get_model_info(f"models:/{logged.model_id}").signature.inputs.input_names()
        assert column not in inputs, "the logged model's signature"
