"""MLflow: one run per training, with params, CV metrics, dataset, environment and model."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import warnings
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import Project
from ..contract import Contract

TRACKED_PACKAGES = ("scikit-learn", "numpy", "pandas", "skops", "mlflow", "pandera")
MODEL_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "skops")


def connect(project: Project) -> str:
    """Point MLflow at the project's store and return the experiment id (created if needed)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    # MLflow's hints (ambiguous local dataset source, integer columns in a signature, creating
    # the SQLite tables) are about its own internals, not something the user can act on.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(project.tracking_uri)
    name = project.config.tracking.experiment
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = (project.root / "mlruns").as_uri() if project.tracking_uri.startswith("sqlite") else None
    return mlflow.create_experiment(name, artifact_location=artifacts)


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested config sections into dotted keys: {'data': {'task': ..}} → {'data.task': ..}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def git_state(root: Path) -> dict[str, str]:
    """Return the commit and dirty flag of the project's git checkout, when there is one."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if sha.returncode != 0:
        return {}
    return {"git_sha": sha.stdout.strip(), "git_dirty": str(bool(status.stdout.strip())).lower()}


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class ExportedModel:
    """The exported model as the worker logs it: its file, and a sample of rows with its answers."""

    path: Path
    sha256: str
    example: pd.DataFrame  # the first training rows' features: the input example and signature
    predictions: Any  # the model's predictions for them


def start_run(project: Project) -> str:
    """Create the training run (logged to by log_training) and return its id."""
    from mlflow import MlflowClient

    experiment_id = connect(project)
    return MlflowClient().create_run(experiment_id, run_name=project.config.model.family).info.run_id


def end_run(project: Project, run_id: str, status: str) -> None:
    """Mark a run FINISHED or FAILED (a pipeline that stopped before logging to it)."""
    from mlflow import MlflowClient

    connect(project)
    MlflowClient().set_terminated(run_id, status)


def warm_up() -> None:
    """Import what logging the model and drawing the figures need (in the worker, while the
    pipeline trains).

    Neither scikit-learn nor skops: the worker logs the exported file (logged_model.py), draws the
    figures from plain arrays (figures.py), and the gate scores in the pipeline's own process.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot
    import mlflow.pyfunc  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import yaml  # noqa: F401
    from mlflow.models import infer_signature  # noqa: F401
    from mlflow.utils import environment  # noqa: F401


def log_training(
    project: Project,
    run_id: str,
    cv: dict[str, dict[str, dict[str, float]]],
    train: pd.DataFrame,
    contract: Contract,
    data_digest: str,
    model: ExportedModel,
) -> str:
    """Log the train stage (params, CV metrics, dataset, environment, model) to the run; return its id."""
    import mlflow
    from mlflow.models import infer_signature

    from .logged_model import log_exported

    connect(project)
    cfg = project.config
    safe_train = train.drop(columns=contract.sensitive_columns)
    with mlflow.start_run(run_id=run_id) as run:
        params = {k: v for k, v in flatten(cfg.model_dump()).items() if not k.startswith("data.sensitive")}
        mlflow.log_params(params)
        mlflow.set_tags(
            {
                "task": contract.task,
                "model_family": cfg.model.family,
                "data_digest": data_digest,
                "python": platform.python_version(),
                **git_state(project.root),
            }
        )
        mlflow.log_metrics(
            {
                f"{who}_cv_{metric}_{stat}": value
                for who, metrics in cv.items()
                for metric, stats in metrics.items()
                for stat, value in stats.items()
                if value == value
            }
        )
        dataset = mlflow.data.from_pandas(
            safe_train,
            source=str(project.processed_dir / "train.parquet"),
            targets=contract.target,
            name="train",
            digest=data_digest[:16],
        )
        mlflow.log_input(dataset, context="training")
        mlflow.log_dict(package_versions(), "environment.json")
        mlflow.log_dict(contract.to_dict(), "schema.json")
        versions = package_versions(MODEL_PACKAGES)
        skip_distribution_scan()
        log_exported(
            model.path,
            model.sha256,
            versions["scikit-learn"],
            signature=infer_signature(model.example, model.predictions),
            input_example=model.example.head(3),
            pip_requirements=[f"{name}=={version}" for name, version in versions.items()],
        )
        return run.info.run_id


def skip_distribution_scan() -> None:
    """Spare MLflow its scan of every installed distribution (~0.5 s) before it logs the model.

    With explicit pip requirements MLflow checks each one against the installed version, and uses a
    module → distribution map built from that scan only when importlib.metadata cannot find the
    package. Ours come from importlib.metadata, so an empty map changes no result. It is an internal
    of MLflow: if it moves, MLflow simply scans as before.
    """
    from mlflow.utils import requirements_utils

    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", ()) is None:
        requirements_utils._MODULES_TO_PACKAGES = {}


def log_evaluation(
    project: Project, run_id: str | None, metrics: dict[str, dict[str, float]], files: list[Path]
) -> None:
    """Add held-out metrics and report files to the training run."""
    if run_id is None:
        return
    import mlflow

    connect(project)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(
            {
                f"{who}_test_{name}": value
                for who, values in metrics.items()
                for name, value in values.items()
                if value == value
            }
        )
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="figures" if path.suffix == ".png" else "reports")


def log_files(project: Project, run_id: str | None, files: list[Path]) -> None:
    """Attach files (such as the run manifest) to a run, at the top of its artifacts."""
    if run_id is None:
        return
    import mlflow

    connect(project)
    with mlflow.start_run(run_id=run_id):
        for path in files:
            mlflow.log_artifact(str(path))
