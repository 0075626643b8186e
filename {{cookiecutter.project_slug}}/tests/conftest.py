"""Shared fixtures: every test works in tmp_path, offline, with MLflow pointed there."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.project import Project, load_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "config.yaml"


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return base with overrides applied section by section."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_config(root: Path, **overrides: Any) -> Path:
    """Write the project's default config, with overrides, to root/configs/config.yaml."""
    config = merge(yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")), overrides)
    path = root / "configs" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _offline_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.delenv("{{ cookiecutter.module_name | upper }}_CONFIG", raising=False)
    monkeypatch.delenv("PREDICTION_LOG_URL", raising=False)  # never a real prediction log


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The default config in a fresh project folder under tmp_path."""
    return write_config(tmp_path)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project folder where `pipeline` has run once (shared by the tests that only read it)."""
    path = write_config(tmp_path_factory.mktemp("trained"))
    assert main(["pipeline", "--config", str(path)]) == 0
    return load_project(path)


def pick_sensitive_column(project: Project) -> str:
    """A column to declare sensitive in tests: `sex` when the data has it, else a label, else any feature."""
    from {{ cookiecutter.module_name }}.contract import CATEGORICAL, Contract

    contract = Contract.load(project.processed_dir / "schema.json")
    labels = contract.features_of_kind(CATEGORICAL)
    return "sex" if "sex" in contract.feature_names else (labels or contract.feature_names)[0]


@pytest.fixture(scope="session")
def challenged_project(trained_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project with a sensitive column: pipeline once (v1, champion), then a more regularized
    challenger (v2, other held-out metrics) that must beat the champion by
    promotion.margin_vs_champion = 0.5, so it loses and v1 keeps serving."""
    root = tmp_path_factory.mktemp("challenged")
    data, cv = {"sensitive_columns": [pick_sensitive_column(trained_project)]}, {"folds": 2}  # 2: speed
    assert main(["pipeline", "--config", str(write_config(root, data=data, cv=cv))]) == 0
    weaker = {"C": 0.01} if trained_project.config.data.task == "classification" else {"alpha": 100.0}
    model = {"family": "linear", "params": weaker}
    path = write_config(root, data=data, cv=cv, model=model, promotion={"margin_vs_champion": 0.5})
    for command in ("train", "promote"):  # the gate re-scores both models itself
        assert main([command, "--config", str(path)]) == 0
    return load_project(path)
