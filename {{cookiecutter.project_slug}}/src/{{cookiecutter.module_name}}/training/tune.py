"""Tune the model's hyperparameters with Optuna, cross-validated on the training rows only.

The held-out rows are never seen here, so the evaluation after adopting the best parameters stays
honest. Each trial is a nested MLflow run under one parent run; the search is seeded and bounded.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import ParamRange
from ..data.prepare import load_processed
from ..errors import ConfigError
from ..metrics import metric_directions, primary_metric
from ..project import Project
from . import tracking
from .train import build_estimator, build_pipeline, check_params, cross_validate


def suggest(trial: Any, name: str, space: ParamRange) -> Any:
    """Draw one value: a choice, an integer when both bounds are integers, else a float."""
    if space.choices is not None:
        return trial.suggest_categorical(name, space.choices)
    if isinstance(space.low, int) and isinstance(space.high, int):
        return trial.suggest_int(name, space.low, space.high, log=space.log)
    return trial.suggest_float(name, float(space.low), float(space.high), log=space.log)


def search_space(project: Project) -> dict[str, ParamRange]:
    """Return model.family's search space; refuse a missing one or a name the estimator does not have."""
    cfg = project.config
    family = cfg.model.family
    space = cfg.tuning.search_space.get(family)
    if not space:
        example = family + ": {max_depth: {low: 2, high: 20}}"
        raise ConfigError(
            f"tuning.search_space has no entry for model.family '{family}' — add one, e.g. {example}."
        )
    estimator = build_estimator(cfg.data.task, family, {}, cfg.split.seed)
    check_params(estimator, space, f"tuning.search_space.{family}")
    return space


def tune_model(project: Project, trials: int | None = None) -> list[str]:
    """Search model.family's space, log every trial; return what the CLI prints, ending with how to adopt it."""
    import mlflow
    import optuna
    import yaml

    cfg = project.config
    space = search_space(project)
    train, _, contract = load_processed(project)  # training rows only: the test split stays unseen
    X, y = train[contract.feature_names], train[contract.target]
    metric = primary_metric(contract.task, cfg.evaluation.primary_metric)
    n_trials = trials or cfg.tuning.trials

    def objective(trial: Any) -> float:
        params = {**cfg.model.params, **{name: suggest(trial, name, rng) for name, rng in space.items()}}
        estimator = build_estimator(contract.task, cfg.model.family, params, cfg.split.seed)
        pipeline = build_pipeline(contract, estimator, cfg.features.max_categories)
        summary, _ = cross_validate(pipeline, X, y, contract, cfg.cv.folds, cfg.split.seed)
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.log_params(params)
            tracking.log_metrics({"cv": summary})
        return summary[metric]["mean"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if metric_directions(contract.task)[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=cfg.split.seed),
    )
    family = cfg.model.family
    with mlflow.start_run(experiment_id=tracking.connect(project), run_name=f"tune-{family}") as parent:
        mlflow.set_tags({"stage": "tune", "model_family": family})
        mlflow.log_params({"tuning.trials": n_trials, "tuning.metric": metric, "model.family": family})
        study.optimize(objective, n_trials=n_trials)
        best = {**cfg.model.params, **study.best_params}
        mlflow.log_metric(f"best_cv_{metric}", study.best_value)
        mlflow.log_dict({"best_params": best}, "best_params.json")
    history = [{"number": t.number, "value": t.value, "params": t.params} for t in study.trials]
    summary = {"metric": metric, "best_value": study.best_value, "best_params": best, "family": family}
    report = project.reports_dir / "tuning.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({**summary, "trials": history}, indent=2) + "\n", encoding="utf-8")
    adopt = yaml.safe_dump({"model": {"family": family, "params": best}})
    return [
        f"best cross-validated {metric}: {study.best_value:.4f} after {n_trials} trials",
        f"all trials: {report}, MLflow run {parent.info.run_id} (one nested run per trial)",
        f"to adopt, set in {project.config_path.name} and run `make pipeline`:\n{adopt}",
    ]
