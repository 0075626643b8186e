"""Train the dummy baseline and the configured model, cross-validate both, track and export."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from .. import model_files
from ..contract import Contract
from ..data.prepare import digest, load_processed
from ..errors import ConfigError, DataError
from ..metrics import compute_metrics
from ..project import Project
from . import onnx_export, tracking
from .features import build_preprocessor
from .manifest import build_manifest, write_manifest

# (task, family) → (module, class, defaults). Families are task-neutral names in config.yaml.
ESTIMATORS = {
    ("classification", "linear"): ("sklearn.linear_model", "LogisticRegression", {"max_iter": 2000}),
    ("regression", "linear"): ("sklearn.linear_model", "Ridge", {}),
    ("classification", "random_forest"): (
        "sklearn.ensemble",
        "RandomForestClassifier",
        {"n_estimators": 200},
    ),
    ("regression", "random_forest"): ("sklearn.ensemble", "RandomForestRegressor", {"n_estimators": 200}),
    ("classification", "gradient_boosting"): ("sklearn.ensemble", "HistGradientBoostingClassifier", {}),
    ("regression", "gradient_boosting"): ("sklearn.ensemble", "HistGradientBoostingRegressor", {}),
}


@dataclass
class TrainResult:
    model: Pipeline
    baseline: Pipeline
    cv: dict[str, dict[str, dict[str, float]]]
    folds: int
    estimator_name: str


def describe_training(project: Project, result: TrainResult, metadata: dict[str, Any]) -> list[str]:
    """What the CLI prints after the CV table: fewer folds than configured, and where the model went."""
    lines = []
    if result.folds < project.config.cv.folds:
        limit = "the rarest class has" if project.config.data.task == "classification" else "there are"
        lines.append(
            f"[yellow]note[/yellow]: {result.folds} cross-validation folds, not cv.folds = "
            f"{project.config.cv.folds}: {limit} too few training rows for more"
        )
    run = metadata["mlflow_run_id"]
    return [*lines, f"model {metadata['version']} → {project.candidate_dir}, MLflow run {run}"]


def check_params(estimator: Any, names: Iterable[str], key: str) -> None:
    """Refuse a parameter name the estimator does not have; `key` says where config.yaml sets it."""
    valid = estimator.get_params()
    for name in names:
        if name not in valid:
            raise ConfigError(
                f"{key}.{name} is not a parameter of {type(estimator).__name__} — valid: {', '.join(sorted(valid))}."
            )


def build_estimator(task: str, family: str, params: dict[str, Any], seed: int) -> Any:
    """Instantiate the configured estimator, seeded; refuse parameters it does not have."""
    module, name, defaults = ESTIMATORS[(task, family)]
    estimator = getattr(importlib.import_module(module), name)(**defaults)
    check_params(estimator, params, "model.params")
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator.set_params(**params)


def build_pipeline(contract: Contract, estimator: Any, max_categories: int) -> Pipeline:
    return Pipeline([("preprocess", build_preprocessor(contract, max_categories)), ("model", estimator)])


def score(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, contract: Contract) -> dict[str, float]:
    proba = pipeline.predict_proba(X) if contract.task == "classification" else None
    return compute_metrics(contract.task, y.to_numpy(), pipeline.predict(X), proba, contract.classes)


def cross_validate(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, contract: Contract, folds: int, seed: int
) -> tuple[dict[str, dict[str, float]], int]:
    """K-fold CV (stratified for classification); return metric → mean and std, and the folds used."""
    if len(y) < 4:
        raise DataError(
            f"only {len(y)} training rows — cross-validation needs at least 4; add rows or lower split.test_size."
        )
    if contract.task == "classification":
        folds = max(2, min(folds, int(y.value_counts().min())))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        folds = min(folds, len(y) // 2)
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for fit_rows, val_rows in splitter.split(X, y):
        fitted = fit(clone(pipeline), X.iloc[fit_rows], y.iloc[fit_rows])
        scores.append(score(fitted, X.iloc[val_rows], y.iloc[val_rows], contract))
    # pandas skips NaN (say, ROC AUC on a fold that lacks a class); a metric NaN on every fold stays NaN.
    summary = {
        metric: {"mean": float(values.mean()), "std": float(values.std(ddof=0))}
        for metric, values in pd.DataFrame(scores).items()
    }
    return summary, folds


def fit(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series) -> Pipeline:
    """Fit, turning an invalid hyperparameter value into a config error."""
    try:
        return pipeline.fit(X, y)
    except (ValueError, TypeError) as exc:
        # scikit-learn checks hyperparameters when fitting, with messages like "The 'C' parameter
        # of LogisticRegression must be ...": those come from config.yaml, other errors do not.
        if " parameter of " not in str(exc):
            raise
        raise ConfigError(f"model.params: {exc} — fix the value in config.yaml.") from None


def fit_models(project: Project, train: pd.DataFrame, contract: Contract) -> TrainResult:
    """Cross-validate and fit the baseline and the configured model on the training split."""
    cfg = project.config
    X, y = train[contract.feature_names], train[contract.target]
    estimator = build_estimator(cfg.data.task, cfg.model.family, cfg.model.params, cfg.split.seed)
    dummy = DummyClassifier(strategy="prior") if cfg.data.task == "classification" else DummyRegressor()
    model, baseline = (build_pipeline(contract, e, cfg.features.max_categories) for e in (estimator, dummy))
    model_cv, folds = cross_validate(model, X, y, contract, cfg.cv.folds, cfg.split.seed)
    baseline_cv, _ = cross_validate(baseline, X, y, contract, cfg.cv.folds, cfg.split.seed)
    cv = {"model": model_cv, "baseline": baseline_cv}
    return TrainResult(fit(model, X, y), fit(baseline, X, y), cv, folds, type(estimator).__name__)


def export(
    project: Project, result: TrainResult, contract: Contract, data_digest: str, run_id: str | None
) -> dict[str, Any]:
    """Write model.skops, baseline.skops, model.onnx and model.json to models/candidate/."""
    models_dir = project.candidate_dir
    files = {
        "model.skops": model_files.save_skops(result.model, models_dir / "model.skops"),
        "baseline.skops": model_files.save_skops(result.baseline, models_dir / "baseline.skops"),
    }
    created = datetime.now(timezone.utc)
    metadata = {
        "name": project.config.project_slug,
        # Readable and unique: two trainings in the same second still differ by file digest.
        "version": f"{created:%Y%m%d-%H%M%S}-{files['model.skops'][:8]}",
        "created": created.isoformat(timespec="seconds"),
        "task": contract.task,
        "target": contract.target,
        "classes": contract.classes,
        "family": project.config.model.family,
        "estimator": result.estimator_name,
        "features": contract.feature_names,
        "contract": contract.to_dict(),  # the API reads it from here: models/ is all it needs
        "cv_folds": result.folds,
        "cv_metrics": result.cv,
        "data_digest": data_digest,
        "mlflow_run_id": run_id,
    }
    # model.onnx is exported too; it serves only if it matches the Pipeline on the held-out split.
    held_out = pd.read_parquet(project.processed_dir / "test.parquet")
    metadata |= onnx_export.export_onnx(result.model, contract, held_out, files, models_dir)
    model_files.write_metadata(models_dir, metadata)
    return metadata


def train_model(project: Project) -> tuple[TrainResult, dict[str, Any]]:
    """Run the train stage: fit and cross-validate, export models/candidate/, log one MLflow run."""
    train, test, contract = load_processed(project)
    data_digest = digest(pd.concat([train, test]))
    with tracking.mlflow_run(project) as run_id:
        result = fit_models(project, train, contract)
        metadata = export(project, result, contract, data_digest, run_id)
        tracking.log_training(project, result.cv, train, contract, data_digest)
        tracking.log_model(result.model, train[contract.feature_names].head(20))
        manifest = build_manifest(project, data_digest, metadata["files"])
        tracking.log_files([write_manifest(project.candidate_dir, manifest)])
    return result, metadata
