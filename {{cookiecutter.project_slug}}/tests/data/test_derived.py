"""The feature hook (data/derived.py): training and serving compute the same derived features."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.contract import NUMERIC, Contract
from {{ cookiecutter.module_name }}.data import derived
from {{ cookiecutter.module_name }}.errors import DataError
from {{ cookiecutter.module_name }}.project import Project, load_project
from {{ cookiecutter.module_name }}.serving.app import create_app
from {{ cookiecutter.module_name }}.serving.runtime import load_predictor

from ..conftest import write_config


def ratio(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The worked example in data/derived.py, on the first two number columns."""
    top, bottom = [values for values in columns.values() if values.dtype.kind == "f"][:2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"ratio": np.where(bottom != 0, top / bottom, np.nan)}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """`pipeline` with a ratio in data/derived.py, which stays in place for the module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(derived, "derive_features", ratio)
        path = write_config(tmp_path_factory.mktemp("derived"), cv={"folds": 2})
        assert main(["pipeline", "--config", str(path)]) == 0
        yield load_project(path)


def test_a_derived_feature_is_a_numeric_model_input_but_no_request_field(project: Project) -> None:
    contract = Contract.load(project.processed_dir / "schema.json")
    assert contract.derived == ["ratio"] and contract.feature("ratio").kind == NUMERIC
    assert "ratio" not in contract.example, "the example is a record as callers send it"
    with TestClient(create_app(project)) as client:
        assert client.post("/predict", json=contract.example).status_code == 200
        refused = client.post("/predict", json={**contract.example, "ratio": 1.0})
        assert refused.status_code == 422, "a derived feature is computed, never sent"


def test_the_api_and_predict_agree_on_raw_rows(project: Project, tmp_path: Path) -> None:
    contract = Contract.load(project.processed_dir / "schema.json")
    rows = pd.read_parquet(project.processed_dir / "test.parquet").drop(columns="ratio").head(20)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    config = str(project.config_path)
    assert (
        main(
            ["predict", str(tmp_path / "rows.csv"), "--output", str(tmp_path / "out.csv"), "--config", config]
        )
        == 0
    )
    scored = pd.read_csv(tmp_path / "out.csv")
    sent = [feature.name for feature in contract.sent_features]
    records = rows[sent].astype(object).where(rows[sent].notna(), None).to_dict("records")
    with TestClient(create_app(project)) as client:
        answers = client.post("/predict/batch", json={"records": records}).json()["predictions"]
    api = [answer["prediction"] for answer in answers]
    if contract.task == "classification":
        assert [str(value) for value in scored["prediction"]] == api
    else:
        assert np.allclose(scored["prediction"], api)


def test_a_model_whose_derived_feature_the_hook_no_longer_makes_fails_at_load(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(derived, "derive_features", lambda columns: {})  # the hook as generated
    with pytest.raises(DataError, match=r"data/derived\.py: derive_features makes nothing"):
        load_predictor(project.models_dir)


def test_a_hook_that_fails_on_a_request_answers_a_500_naming_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails_on_batches(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if len(next(iter(columns.values()))) > 1:
            raise ValueError("no batches")
        return ratio(columns)

    monkeypatch.setattr(derived, "derive_features", fails_on_batches)
    example = Contract.load(project.processed_dir / "schema.json").example
    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        answer = client.post("/predict/batch", json={"records": [example, example]})
    assert answer.status_code == 500
    assert answer.json()["detail"].startswith(
        "data/derived.py: derive_features failed (ValueError: no batches)"
    )


def test_a_hook_that_raises_stops_the_data_stage_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"ratio": columns["no_such_column"]}

    monkeypatch.setattr(derived, "derive_features", broken)
    assert main(["data", "--config", str(write_config(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert "data/derived.py: derive_features failed (KeyError: 'no_such_column')" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
