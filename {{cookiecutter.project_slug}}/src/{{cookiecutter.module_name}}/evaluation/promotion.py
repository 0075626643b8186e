"""The promotion gate: a new model is served only when it beats the baseline and the champion.

Every trained model is registered in MLflow as `<project_slug>` with the alias `challenger`. It
also becomes `champion` — and is copied from models/candidate/ to models/, which the API
serves — only if its primary metric on the held-out rows beats the dummy baseline by
`promotion.margin_vs_baseline` and the current champion, re-scored on the same rows, by
`promotion.margin_vs_champion`. A model that loses changes nothing that is served.

The gate has an MLflow side (register, fetch the champion, move aliases: consult_registry and
apply_decision, which `pipeline` runs in its tracking worker) and a scoring side (judge, run where
the models are already loaded). Only the scoring side imports scikit-learn and skops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import model_files
from ..config import Project
from ..errors import UserError
from ..metrics import baseline_metrics, beats, metric_directions, primary_metric
from ..training.manifest import MANIFEST_FILE
from ..training.tracking_worker import Tracker

if TYPE_CHECKING:
    import pandas as pd

    from ..contract import Contract

CHALLENGER = "challenger"
CHAMPION = "champion"


@dataclass(frozen=True)
class Comparison:
    """The candidate's primary metric against one reference, and whether it clears the margin."""

    against: str
    candidate: float
    reference: float
    margin: float
    passed: bool
    metric: str | None = None  # set when it is not the decision's primary metric
    greater_is_better: bool = True

    def describe(self, metric: str, greater: bool) -> str:
        if self.metric is not None:
            metric, greater = self.metric, self.greater_is_better
        needed = self.reference + self.margin if greater else self.reference - self.margin
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"{verdict}: {metric} {self.candidate:.4f} vs {self.against} {self.reference:.4f} "
            f"(margin {self.margin:g}: needs {'>' if greater else '<'} {needed:.4f})"
        )


@dataclass
class Decision:
    name: str
    version: str
    metric: str
    greater: bool
    comparisons: list[Comparison] = field(default_factory=list)
    promoted: bool = False
    notes: list[str] = field(default_factory=list)
    champion: str | None = None  # the champion's version before this decision


@dataclass(frozen=True)
class Registry:
    """What the gate needs from MLflow: the candidate's version and the champion to beat."""

    version: str  # the candidate's registered version, now `challenger`
    champion: str | None = None  # the champion's version, when there is one
    champion_dir: Path | None = None  # a downloaded copy of the champion's artifact (to re-score)


def compare(
    task: str, metric: str, candidate: float, against: str, reference: float, margin: float
) -> Comparison:
    return Comparison(
        against, candidate, reference, margin, beats(task, metric, candidate, reference, margin)
    )


def register_candidate(project: Project, run_id: str) -> Any:
    """Register the run's logged model (once) and point the `challenger` alias at it."""
    import mlflow
    from mlflow import MlflowClient

    from ..training.tracking import connect

    experiment_id = connect(project)
    name, client = project.config.project_slug, MlflowClient()
    existing = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    if existing:
        version = existing[0]
    else:
        logged = mlflow.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'", output_format="list"
        )
        if not logged:
            raise UserError(f'MLflow run {run_id} has no logged model — run "make train" again.')
        version = mlflow.register_model(f"models:/{logged[0].model_id}", name)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return version


def current_champion(name: str) -> Any | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None  # no registered model yet, or no champion alias


def consult_registry(project: Project, run_id: str, downloads: Path) -> Registry:
    """Register the run's model as `challenger`; download the champion into downloads, if another
    version is one (the caller owns that folder and removes it)."""
    import mlflow

    version = str(register_candidate(project, run_id).version)
    champion = current_champion(project.config.project_slug)
    if champion is None or str(champion.version) == version:
        return Registry(version, None if champion is None else version)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the CLI output readable
    mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{project.config.project_slug}/{champion.version}", dst_path=str(downloads)
    )
    return Registry(version, str(champion.version), downloads)


def load_champion(registry: Registry) -> Any:
    """Load the downloaded champion's skops file with our own trusted-type list (never the artifact's)."""
    import skops.io as sio

    assert registry.champion_dir is not None
    return sio.load(next(registry.champion_dir.rglob("*.skops")), trusted=model_files.TRUSTED_TYPES)


def served_run(models_dir: Path) -> str | None:
    """The MLflow run of the model in models/ (what the API serves), or None when nothing was promoted."""
    has_model = (models_dir / model_files.METADATA_FILE).is_file()
    return model_files.read_metadata(models_dir).get("mlflow_run_id") if has_model else None


def publish(candidate_dir: Path, models_dir: Path) -> None:
    """Copy the candidate's files into models/, model.json last; drop files only the old champion had."""
    metadata = model_files.read_metadata(candidate_dir)
    names = [*metadata["files"], MANIFEST_FILE]
    old = model_files.read_metadata(models_dir).get("files", {}) if served_run(models_dir) else {}
    for name in names:
        shutil.copy2(candidate_dir / name, models_dir / name)
    for name in set(old) - set(names):
        (models_dir / name).unlink(missing_ok=True)
    shutil.copy2(candidate_dir / model_files.METADATA_FILE, models_dir / model_files.METADATA_FILE)


def challenge_champion(
    project: Project, decision: Decision, registry: Registry, candidate: float, X: Any, y: Any, contract: Any
) -> None:
    """Re-score the current champion on the same held-out rows and compare (no champion: nothing to beat)."""
    from ..training.train import score

    if registry.champion is None:
        decision.notes.append("no champion yet: the candidate only has to beat the baseline")
        return
    try:
        reference = score(load_champion(registry), X, y, contract)[decision.metric]
    except (KeyError, ValueError) as exc:  # the data contract changed since the champion was trained
        decision.notes.append(
            f"champion v{registry.champion} cannot score today's held-out data ({exc}); it is replaced"
        )
        return
    margin = project.config.promotion.margin_vs_champion
    decision.comparisons.append(
        compare(
            contract.task, decision.metric, candidate, f"champion v{registry.champion}", reference, margin
        )
    )


def promote_model(
    project: Project, tracker: Tracker | None = None, held_out: dict[str, dict[str, float]] | None = None
) -> Decision:
    """Run the gate for the model in models/candidate/ and return what was decided and why.

    The MLflow calls go through the tracker (in `pipeline`, its worker, once everything queued
    before has succeeded: a stage that failed registers nothing); the scoring runs here.
    `held_out` are the candidate's and the baseline's held-out metrics when evaluate has just
    computed them (else they are computed here).
    """
    from ..data.prepare import load_processed

    tracker = tracker or Tracker(background=False)
    tracker.wait()
    metadata = model_files.read_metadata(project.candidate_dir)
    if not metadata.get("mlflow_run_id"):
        raise UserError('The candidate has no MLflow run — run "make train" first.')
    with tempfile.TemporaryDirectory(prefix="champion-") as downloads:
        registry = tracker.submit(consult_registry, project, metadata["mlflow_run_id"], Path(downloads))
        _, test, contract = load_processed(project)
        X, y = test[contract.feature_names], test[contract.target]
        if held_out is None:
            held_out = score_candidate(project, X, y, contract)
        decision = judge(project, tracker.result(registry), held_out, X, y, contract)
    return tracker.call(apply_decision, project, decision)


def score_candidate(project: Project, X: pd.DataFrame, y: pd.Series, contract: Contract) -> dict[str, Any]:
    """The held-out metrics of the candidate and its baseline, as evaluate computes them."""
    from ..training.train import score

    model, _ = model_files.load_skops(project.candidate_dir, "model.skops")
    baseline, _ = model_files.load_skops(project.candidate_dir, "baseline.skops")
    return {"model": score(model, X, y, contract), "baseline": score(baseline, X, y, contract)}


def judge(
    project: Project,
    registry: Registry,
    held_out: dict[str, dict[str, float]],
    X: pd.DataFrame,
    y: pd.Series,
    contract: Contract,
) -> Decision:
    """Decide whether the candidate beats the baseline and the champion. Nothing served changes here."""
    cfg = project.config
    metric = primary_metric(contract.task, cfg.evaluation.primary_metric)
    decision = Decision(cfg.project_slug, registry.version, metric, metric_directions(contract.task)[metric])
    decision.champion = registry.champion
    model_scores, baseline_scores = held_out["model"], held_out["baseline"]
    candidate = model_scores[metric]
    margin = cfg.promotion.margin_vs_baseline
    decision.comparisons.append(
        compare(contract.task, metric, candidate, "dummy baseline", baseline_scores[metric], margin)
    )
    for extra in baseline_metrics(contract.task, metric)[1:]:
        check = compare(
            contract.task, extra, model_scores[extra], "dummy baseline", baseline_scores[extra], 0.0
        )
        greater = metric_directions(contract.task)[extra]
        decision.comparisons.append(replace(check, metric=extra, greater_is_better=greater))
    if registry.champion == registry.version:
        decision.notes.append(f"v{registry.version} is already the champion; the gate does not demote")
        decision.promoted = True
    else:
        challenge_champion(project, decision, registry, candidate, X, y, contract)
        decision.promoted = all(c.passed for c in decision.comparisons)
    return decision


def apply_decision(project: Project, decision: Decision) -> Decision:
    """Make a winning candidate `champion` and copy it to models/; record the verdict on its version."""
    from mlflow import MlflowClient

    from ..training.tracking import connect

    connect(project)
    metadata = model_files.read_metadata(project.candidate_dir)
    if decision.promoted:
        MlflowClient().set_registered_model_alias(decision.name, CHAMPION, decision.version)
        if served_run(project.models_dir) != metadata["mlflow_run_id"]:
            publish(project.candidate_dir, project.models_dir)
    failed = [c.describe(decision.metric, decision.greater) for c in decision.comparisons if not c.passed]
    verdict = "champion" if decision.promoted else "; ".join(failed)[:500]
    MlflowClient().set_model_version_tag(decision.name, decision.version, "gate", verdict)
    return decision
