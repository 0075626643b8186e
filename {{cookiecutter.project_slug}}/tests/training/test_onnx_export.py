"""ONNX export: parity with the Pipeline decides the runtime, and model.json says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.model_files import load_skops, read_metadata, sha256_file
from {{ cookiecutter.module_name }}.project import Project
from {{ cookiecutter.module_name }}.serving.runtime import OnnxPredictor
from {{ cookiecutter.module_name }}.training import onnx_export
from {{ cookiecutter.module_name }}.training.train import build_estimator, build_pipeline


@pytest.fixture(scope="module")
def exported(trained_project: Project) -> tuple[dict, Contract, pd.DataFrame]:
    metadata = read_metadata(trained_project.models_dir)
    test = pd.read_parquet(trained_project.processed_dir / "test.parquet")
    return metadata, Contract.from_dict(metadata["contract"]), test


def test_default_model_serves_on_onnx_with_its_digest_recorded(
    trained_project: Project, exported: tuple[dict, Contract, pd.DataFrame]
) -> None:
    metadata, _, test = exported
    assert metadata["runtime"] == "onnx", metadata["runtime_reason"]
    assert metadata["onnx_parity"] == {**metadata["onnx_parity"], "passed": True, "rows": len(test)}
    assert metadata["files"]["model.onnx"] == sha256_file(trained_project.models_dir / "model.onnx")


def test_onnx_matches_the_pipeline_on_the_held_out_split(
    trained_project: Project, exported: tuple[dict, Contract, pd.DataFrame]
) -> None:
    metadata, contract, test = exported
    pipeline, _ = load_skops(trained_project.models_dir)
    onnx = OnnxPredictor(trained_project.models_dir / "model.onnx", contract, metadata["classes"])
    X = test[contract.feature_names]
    rows = X.astype(object).where(X.notna(), None).to_dict("records")
    scores = onnx.predict(rows)
    if contract.task == "classification":
        assert scores.predictions == [str(label) for label in pipeline.predict(X)]
        assert np.abs(scores.probabilities - pipeline.predict_proba(X)).max() <= 1e-5
    else:
        assert scores.predictions == pytest.approx(pipeline.predict(X).tolist(), rel=1e-5)


def quick_tree_model(trained_project: Project, contract: Contract, family: str, params: dict):
    train = pd.read_parquet(trained_project.processed_dir / "train.parquet")
    estimator = build_estimator(contract.task, family, params, seed=0)
    return build_pipeline(contract, estimator, max_categories=30).fit(
        train[contract.feature_names], train[contract.target]
    )


def test_failed_parity_falls_back_to_skops_and_says_why(
    tmp_path, trained_project: Project, exported: tuple[dict, Contract, pd.DataFrame], monkeypatch
) -> None:
    _, contract, test = exported
    model = quick_tree_model(trained_project, contract, "random_forest", {"n_estimators": 5})
    monkeypatch.setattr(onnx_export, "PROBA_TOLERANCE", -1.0)  # nothing can pass: a forced failure
    monkeypatch.setattr(onnx_export, "REGRESSION_TOLERANCE", -1.0)
    fields = onnx_export.export_onnx(model, contract, test, {"model.skops": "x"}, tmp_path)
    assert fields["runtime"] == "skops"
    assert fields["onnx_parity"]["passed"] is False
    assert "differs" in fields["runtime_reason"] or "labels differ" in fields["runtime_reason"]
    assert fields["files"]["model.onnx"] == sha256_file(tmp_path / "model.onnx"), "kept for inspection"


def test_random_forest_serves_on_onnx_only_if_it_passes_parity(
    tmp_path, trained_project: Project, exported: tuple[dict, Contract, pd.DataFrame]
) -> None:
    _, contract, test = exported
    model = quick_tree_model(trained_project, contract, "random_forest", {"n_estimators": 10})
    fields = onnx_export.export_onnx(model, contract, test, {}, tmp_path)
    assert (fields["runtime"] == "onnx") == fields["onnx_parity"]["passed"], fields["runtime_reason"]


def test_model_that_does_not_convert_falls_back_to_skops(
    tmp_path, trained_project: Project, exported: tuple[dict, Contract, pd.DataFrame], monkeypatch
) -> None:
    _, contract, test = exported
    model = quick_tree_model(trained_project, contract, "linear", {})

    def unsupported(*args, **kwargs):
        raise RuntimeError("Unable to find a shape calculator for type 'Mystery'.")

    monkeypatch.setattr(onnx_export, "convert", unsupported)
    (tmp_path / "model.onnx").write_bytes(b"stale graph from an earlier model")
    fields = onnx_export.export_onnx(model, contract, test, {"model.skops": "x"}, tmp_path)
    assert fields["runtime"] == "skops"
    assert fields["onnx_parity"] is None
    assert "does not convert to ONNX (RuntimeError: Unable to find" in fields["runtime_reason"]
    assert not (tmp_path / "model.onnx").exists(), "a stale graph is never left behind to be served"
    assert fields["files"] == {"model.skops": "x"}
