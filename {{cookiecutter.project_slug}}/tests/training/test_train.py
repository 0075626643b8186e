"""Model behaviour: better than the dummy baseline, invariant to column order; config mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.data.prepare import load_processed
from {{ cookiecutter.module_name }}.errors import ConfigError
from {{ cookiecutter.module_name }}.metrics import beats
from {{ cookiecutter.module_name }}.model_files import load_skops
from {{ cookiecutter.module_name }}.project import Project, load_project
from {{ cookiecutter.module_name }}.training.train import build_estimator, score

from ..conftest import write_config


def test_model_beats_dummy_baseline_on_held_out_data(trained_project: Project) -> None:
    _, test, contract = load_processed(trained_project)
    model, _ = load_skops(trained_project.models_dir)
    baseline, _ = load_skops(trained_project.models_dir, "baseline.skops")
    X, y = test[contract.feature_names], test[contract.target]
    primary = "f1_macro" if contract.task == "classification" else "rmse"
    model_score, baseline_score = (
        score(model, X, y, contract)[primary],
        score(baseline, X, y, contract)[primary],
    )
    assert beats(contract.task, primary, model_score, baseline_score), (model_score, baseline_score)


def test_predictions_do_not_depend_on_column_order(trained_project: Project) -> None:
    _, test, contract = load_processed(trained_project)
    model, _ = load_skops(trained_project.models_dir)
    X = test[contract.feature_names]
    shuffled = X[list(reversed(X.columns))]
    assert (model.predict(X) == model.predict(shuffled)).all()


def test_unknown_model_param_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model.params.depth is not a parameter of RandomForest"):
        build_estimator("classification", "random_forest", {"depth": 3}, seed=0)


@pytest.mark.parametrize("family", ["linear", "random_forest", "gradient_boosting"])
def test_every_family_builds_for_both_tasks(family: str) -> None:
    for task in ("classification", "regression"):
        estimator = build_estimator(task, family, {}, seed=7)
        assert estimator.get_params().get("random_state", 7) == 7


def test_config_can_switch_family(tmp_path: Path) -> None:
    project: Project = load_project(write_config(tmp_path, model={"family": "gradient_boosting"}))
    assert project.config.model.family == "gradient_boosting"
