"""Shared fixtures: every test works in tmp_path, offline, with MLflow pointed there."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.project import Project, load_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "config.yaml"
# The folder every pytest-xdist worker of this run sees (the fixture shared_dir sets it).
SHARED_DIR: Path | None = None


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return base with overrides applied section by section."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_config(root: Path, *, empty_mlflow_db: bool = True, **overrides: Any) -> Path:
    """Write the project's default config, with overrides, to root/configs/config.yaml; give the
    project an empty mlflow.db unless told not to (or it tracks somewhere else)."""
    config = merge(yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")), overrides)
    path = root / "configs" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    database = root / "mlflow.db"
    if empty_mlflow_db and config["tracking"]["uri"] == "sqlite:///mlflow.db" and not database.exists():
        shutil.copyfile(migrated_mlflow_db(), database)
    return path


def migrated_mlflow_db() -> Path:
    """An mlflow.db as MLflow's first connection leaves it, made once per test run: each new one
    runs MLflow's schema migrations, seconds every time."""

    def migrate(folder: Path) -> None:
        import mlflow

        folder.mkdir()
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}").search_experiments()

    assert SHARED_DIR, "only the tests' fixtures call write_config"
    return build_once(SHARED_DIR / "empty-mlflow", migrate) / "mlflow.db"


@pytest.fixture(autouse=True)
def _offline_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.delenv("{{ cookiecutter.module_name | upper }}_CONFIG", raising=False)
    monkeypatch.delenv("PREDICTION_LOG_URL", raising=False)  # never a real prediction log


@pytest.fixture(scope="session", autouse=True)
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder every pytest-xdist worker of this run sees: the parent of the workers' own folders."""
    global SHARED_DIR
    base = tmp_path_factory.getbasetemp()
    SHARED_DIR = base if worker_id == "master" else base.parent
    return SHARED_DIR


def build_once(folder: Path, build: Callable[[Path], None]) -> Path:
    """Run build(folder) in the first worker to ask; the others wait for it, then reuse the folder
    (pytest-xdist's recipe for a session fixture that runs once: a FileLock in shared_dir)."""
    done = folder.with_name(folder.name + ".done")
    with FileLock(f"{folder}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            build(folder)
            done.touch()
    return folder


def copy_project(built: Path, root: Path) -> Project:
    """A copy of a built project for this worker to change. Its mlflow.db still points at the built
    folder's artifacts (MLflow stores absolute paths), so a run logged in the copy stores them there."""
    shutil.copytree(built, root, dirs_exist_ok=True)
    return load_project(root / "configs" / "config.yaml")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The default config in a fresh project folder under tmp_path."""
    return write_config(tmp_path)


@pytest.fixture(scope="session")
def trained_project(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project folder where `pipeline` has run, once per test run (it creates its own mlflow.db,
    as `make pipeline` does); each worker gets a copy, shared by the tests that only read it."""

    def run_pipeline(root: Path) -> None:
        assert main(["pipeline", "--config", str(write_config(root, empty_mlflow_db=False))]) == 0

    built = build_once(shared_dir / "trained", run_pipeline)
    return copy_project(built, tmp_path_factory.mktemp("trained"))


def pick_sensitive_column(project: Project) -> str:
    """A column to declare sensitive in tests: `sex` when the data has it, else a label, else any feature."""
    from {{ cookiecutter.module_name }}.contract import CATEGORICAL, Contract

    contract = Contract.load(project.processed_dir / "schema.json")
    labels = contract.features_of_kind(CATEGORICAL)
    return "sex" if "sex" in contract.feature_names else (labels or contract.feature_names)[0]


@pytest.fixture(scope="session")
def challenged_project(
    trained_project: Project, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Project:
    """A project with a sensitive column: pipeline once (v1, champion), then a more regularized
    challenger (v2, other held-out metrics) that must beat the champion by
    promotion.margin_vs_champion = 0.5, so it loses and v1 keeps serving. Built once, copied per worker."""
    data, cv = {"sensitive_columns": [pick_sensitive_column(trained_project)]}, {"folds": 2}  # 2: speed
    weaker = {"C": 0.01} if trained_project.config.data.task == "classification" else {"alpha": 100.0}

    def challenge(root: Path) -> None:
        assert main(["pipeline", "--config", str(write_config(root, data=data, cv=cv))]) == 0
        model = {"family": "linear", "params": weaker}
        path = write_config(root, data=data, cv=cv, model=model, promotion={"margin_vs_champion": 0.5})
        for command in ("train", "promote"):  # the gate re-scores both models itself
            assert main([command, "--config", str(path)]) == 0

    built = build_once(shared_dir / "challenged", challenge)
    return copy_project(built, tmp_path_factory.mktemp("challenged"))
