"""Log the train stage to MLflow: params, CV metrics, the dataset, the environment and the model."""

from __future__ import annotations

import logging
import math
import os
import platform
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from ..contract import Contract
from ..model_files import TRUSTED_TYPES
from ..project import Project

# What model.skops needs to load: pinned as the logged model's requirements.
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
    if experiment := mlflow.get_experiment_by_name(name):
        return experiment.experiment_id
    artifacts = (project.root / "mlruns").as_uri() if project.tracking_uri.startswith("sqlite") else None
    return mlflow.create_experiment(name, artifact_location=artifacts)


@contextmanager
def mlflow_run(project: Project, run_id: str | None = None) -> Iterator[str]:
    """Open a new training run, or reopen run_id; an exception inside marks the run FAILED."""
    import mlflow

    experiment_id = connect(project)
    name = None if run_id else project.config.model.family
    with mlflow.start_run(run_id=run_id, experiment_id=experiment_id, run_name=name) as run:
        yield run.info.run_id


def git_state(root: Path) -> dict[str, str]:
    """Return the commit and dirty flag of the project's git checkout, when there is one."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)

    try:
        sha, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if sha.returncode != 0:
        return {}
    return {"git_sha": sha.stdout.strip(), "git_dirty": str(bool(status.stdout.strip())).lower()}


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Return the installed version of each named distribution (absent ones are left out)."""
    versions = {}
    for name in names:
        with suppress(importlib_metadata.PackageNotFoundError):
            versions[name] = importlib_metadata.version(name)
    return versions


def log_metrics(metrics: dict[str, Any]) -> None:
    """Log nested metrics as flat names (model_cv_f1_macro_mean), without NaN: it would plot as a gap."""
    import mlflow

    flat = pd.json_normalize(metrics, sep="_").to_dict("records")[0]
    mlflow.log_metrics({name: value for name, value in flat.items() if not math.isnan(value)})


def log_training(
    project: Project,
    cv: dict[str, dict[str, dict[str, float]]],
    train: pd.DataFrame,
    contract: Contract,
    data_digest: str,
) -> None:
    """Log params, tags, CV metrics, the training dataset and the contract to the active run."""
    import mlflow

    # Nested sections as dotted keys (data.task, ...). Sensitive columns never reach MLflow: neither
    # their names in the params nor their values.
    params = pd.json_normalize(project.config.model_dump(), sep=".").to_dict("records")[0]
    mlflow.log_params({key: value for key, value in params.items() if not key.startswith("data.sensitive")})
    mlflow.set_tags(
        {
            "task": contract.task,
            "model_family": project.config.model.family,
            "data_digest": data_digest,
            "python": platform.python_version(),
            **git_state(project.root),
        }
    )
    log_metrics({f"{who}_cv": metrics for who, metrics in cv.items()})
    dataset = mlflow.data.from_pandas(
        train.drop(columns=contract.sensitive_columns),
        source=str(project.processed_dir / "train.parquet"),
        targets=contract.target,
        name="train",
        digest=data_digest[:16],
    )
    mlflow.log_input(dataset, context="training")
    mlflow.log_dict(contract.to_dict(), "schema.json")


def log_model(model: Pipeline, example: pd.DataFrame) -> Any:
    """Log the fitted Pipeline as the active run's model `model`, saved with skops."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    # Pinned requirements listed here spare MLflow inferring them, which loads the model in a
    # subprocess; the list matches what model.skops needs to load.
    requirements = [f"{name}=={version}" for name, version in package_versions(MODEL_PACKAGES).items()]
    return mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format="skops",
        skops_trusted_types=TRUSTED_TYPES,
        pip_requirements=requirements,
        signature=infer_signature(example, model.predict(example)),
        input_example=example.head(3),
    )


def log_evaluation(held_out: dict[str, dict[str, float]], files: list[Path]) -> None:
    """Add held-out metrics and the report files to the active run."""
    import mlflow

    log_metrics({f"{who}_test": values for who, values in held_out.items()})
    for path in files:
        mlflow.log_artifact(str(path), artifact_path="figures" if path.suffix == ".png" else "reports")


def log_files(files: list[Path]) -> None:
    """Attach files (such as the run manifest) to the active run, at the top of its artifacts."""
    import mlflow

    for path in files:
        mlflow.log_artifact(str(path))
