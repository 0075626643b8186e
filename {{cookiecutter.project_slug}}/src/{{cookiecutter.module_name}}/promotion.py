"""The promotion gate: a new model is served only when it beats the baseline and the champion.

Every trained model is registered in MLflow as `<project_slug>` with the alias `challenger`. It
also becomes `champion` — and is copied from models/candidate/ to models/, which the API
serves — only if its primary metric on the held-out rows beats the dummy baseline by
`promotion.margin_vs_baseline` and the current champion, re-scored on the same rows, by
`promotion.margin_vs_champion`. A model that loses changes nothing that is served.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import model_io
from .config import Project
from .data import load_processed
from .errors import UserError
from .metrics import baseline_metrics, beats, metric_directions, primary_metric
from .reproducibility import MANIFEST_FILE
from .train import score

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

    from .tracking import connect

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


def load_registered(name: str, version: str) -> Any:
    """Load a registered version's skops file with our own trusted-type list (never the artifact's)."""
    import mlflow
    import skops.io as sio

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the CLI output readable
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=tmp)
        )
        return sio.load(next(local.rglob("*.skops")), trusted=model_io.TRUSTED_TYPES)


def served_run(models_dir: Path) -> str | None:
    """The MLflow run of the model in models/ (what the API serves), or None when nothing was promoted."""
    has_model = (models_dir / model_io.METADATA_FILE).is_file()
    return model_io.read_metadata(models_dir).get("mlflow_run_id") if has_model else None


def publish(candidate_dir: Path, models_dir: Path) -> None:
    """Copy the candidate's files into models/, model.json last; drop files only the old champion had."""
    metadata = model_io.read_metadata(candidate_dir)
    names = [*metadata["files"], MANIFEST_FILE]
    old = model_io.read_metadata(models_dir).get("files", {}) if served_run(models_dir) else {}
    for name in names:
        shutil.copy2(candidate_dir / name, models_dir / name)
    for name in set(old) - set(names):
        (models_dir / name).unlink(missing_ok=True)
    shutil.copy2(candidate_dir / model_io.METADATA_FILE, models_dir / model_io.METADATA_FILE)


def challenge_champion(
    project: Project,
    decision: Decision,
    champion: Any | None,
    candidate: float,
    X: Any,
    y: Any,
    contract: Any,
) -> None:
    """Re-score the current champion on the same held-out rows and compare (no champion: nothing to beat)."""
    if champion is None:
        decision.notes.append("no champion yet: the candidate only has to beat the baseline")
        return
    try:
        reference = score(load_registered(decision.name, str(champion.version)), X, y, contract)[
            decision.metric
        ]
    except (KeyError, ValueError) as exc:  # the data contract changed since the champion was trained
        decision.notes.append(
            f"champion v{champion.version} cannot score today's held-out data ({exc}); it is replaced"
        )
        return
    margin = project.config.promotion.margin_vs_champion
    decision.comparisons.append(
        compare(contract.task, decision.metric, candidate, f"champion v{champion.version}", reference, margin)
    )


def promote_model(project: Project) -> Decision:
    """Run the gate for the model in models/candidate/ and return what was decided and why."""
    return apply_decision(project, judge_candidate(project))


def judge_candidate(project: Project) -> Decision:
    """Register the candidate as `challenger` and decide whether it beats the baseline and champion.

    Nothing that is served changes here: apply_decision() does that.
    """
    cfg = project.config
    _, test, contract = load_processed(project)
    model, metadata = model_io.load_skops(project.candidate_dir, "model.skops")
    baseline, _ = model_io.load_skops(project.candidate_dir, "baseline.skops")
    if not metadata.get("mlflow_run_id"):
        raise UserError('The candidate has no MLflow run — run "make train" first.')
    X, y = test[contract.feature_names], test[contract.target]
    metric = primary_metric(contract.task, cfg.evaluation.primary_metric)
    version = str(register_candidate(project, metadata["mlflow_run_id"]).version)
    decision = Decision(cfg.project_slug, version, metric, metric_directions(contract.task)[metric])
    model_scores, baseline_scores = score(model, X, y, contract), score(baseline, X, y, contract)
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
    champion = current_champion(cfg.project_slug)
    if champion is not None and str(champion.version) == version:
        decision.notes.append(f"v{version} is already the champion; the gate does not demote")
        decision.promoted = True
    else:
        challenge_champion(project, decision, champion, candidate, X, y, contract)
        decision.promoted = all(c.passed for c in decision.comparisons)
    return decision


def apply_decision(project: Project, decision: Decision) -> Decision:
    """Make a winning candidate `champion` and copy it to models/; record the verdict on its version."""
    from mlflow import MlflowClient

    metadata = model_io.read_metadata(project.candidate_dir)
    if decision.promoted:
        MlflowClient().set_registered_model_alias(decision.name, CHAMPION, decision.version)
        if served_run(project.models_dir) != metadata["mlflow_run_id"]:
            publish(project.candidate_dir, project.models_dir)
    failed = [c.describe(decision.metric, decision.greater) for c in decision.comparisons if not c.passed]
    verdict = "champion" if decision.promoted else "; ".join(failed)[:500]
    MlflowClient().set_model_version_tag(decision.name, decision.version, "gate", verdict)
    return decision
