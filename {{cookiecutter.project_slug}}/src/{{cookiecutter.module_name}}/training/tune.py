"""Tune the model's hyperparameters with Optuna, cross-validated on the training rows only.

The held-out rows are never seen here, so the evaluation after adopting the best parameters stays
honest. Each trial is a nested MLflow run under one parent run; the search is seeded and bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ParamRange
from ..data.prepare import load_processed
from ..errors import ConfigError
from ..metrics import metric_directions, primary_metric
from ..project import Project
from . import tracking
from .train import build_estimator, build_pipeline, check_params, cross_validate


@dataclass
class TuningResult:
    metric: str
    best_value: float
    best_params: dict[str, Any]
    trials: int
    run_id: str
    report: Path

    def describe(self, project: Project) -> list[str]:
        """The result as the CLI prints it, ending with the config lines that adopt it."""
        import yaml

        adopt = yaml.safe_dump({"model": {"family": project.config.model.family, "params": self.best_params}})
        return [
            f"best cross-validated {self.metric}: {self.best_value:.4f} after {self.trials} trials",
            f"all trials: {self.report}, MLflow run {self.run_id} (one nested run per trial)",
            f"to adopt, set in {project.config_path.name} and run `make pipeline`:\n{adopt}",
        ]


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
    check_params(
        build_estimator(cfg.data.task, family, {}, cfg.split.seed), space, f"tuning.search_space.{family}"
    )
    return space


def tune_model(project: Project, trials: int | None = None) -> TuningResult:
    """Search model.family's space; log every trial; return the best parameters."""
    import mlflow
    import optuna

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
            tracking.log_metrics(
                {
                    f"cv_{name}_{stat}": value
                    for name, stats in summary.items()
                    for stat, value in stats.items()
                }
            )
        return summary[metric]["mean"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if metric_directions(contract.task)[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=cfg.split.seed),
    )
    run_name = f"tune-{cfg.model.family}"
    with mlflow.start_run(experiment_id=tracking.connect(project), run_name=run_name) as parent:
        mlflow.set_tags({"stage": "tune", "model_family": cfg.model.family})
        mlflow.log_params(
            {"tuning.trials": n_trials, "tuning.metric": metric, "model.family": cfg.model.family}
        )
        study.optimize(objective, n_trials=n_trials)
        best = {**cfg.model.params, **study.best_params}
        mlflow.log_metric(f"best_cv_{metric}", study.best_value)
        mlflow.log_dict({"best_params": best}, "best_params.json")
    history = [{"number": t.number, "value": t.value, "params": t.params} for t in study.trials]
    summary = {
        "metric": metric,
        "best_value": study.best_value,
        "best_params": best,
        "family": cfg.model.family,
    }
    report = project.reports_dir / "tuning.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({**summary, "trials": history}, indent=2) + "\n", encoding="utf-8")
    return TuningResult(metric, study.best_value, best, n_trials, parent.info.run_id, report)
