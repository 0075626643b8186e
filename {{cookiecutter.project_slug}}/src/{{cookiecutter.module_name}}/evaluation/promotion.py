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

import pandas as pd

from .. import model_files
from ..contract import Contract
from ..data.prepare import load_processed
from ..errors import UserError
from ..metrics import baseline_metrics, beats, metric_directions, primary_metric
from ..project import Project
from ..training.manifest import MANIFEST_FILE
from ..training.tracking import connect
from ..training.train import score
from .evaluate import HELD_OUT_KEYS, held_out_summary, record_held_out

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
    """What the gate decided for one registered version, and why."""

    name: str
    version: str
    metric: str
    greater: bool
    comparisons: list[Comparison] = field(default_factory=list)
    promoted: bool = False
    notes: list[str] = field(default_factory=list)
    champion: str | None = None  # the champion's version before this decision

    def describe(self) -> list[str]:
        """The decision as the CLI prints it: each comparison, the notes, and what is served now."""
        lines = [f"registered {self.name} v{self.version} as challenger"]
        lines += [comparison.describe(self.metric, self.greater) for comparison in self.comparisons]
        lines += [f"note: {note}" for note in self.notes]
        if self.promoted:
            return [*lines, f"[green]v{self.version} is the champion[/green]; models/ serves it"]
        served = "the champion in models/ is unchanged" if self.champion else "nothing is served yet"
        return [*lines, f"v{self.version} stays challenger; {served}"]


def compare(
    task: str, metric: str, candidate: float, against: str, reference: float, margin: float
) -> Comparison:
    return Comparison(
        against, candidate, reference, margin, beats(task, metric, candidate, reference, margin)
    )


def promote_model(project: Project) -> Decision:
    """Run the gate for the model in models/candidate/ and return what was decided and why."""
    metadata = model_files.read_metadata(project.candidate_dir)
    if not metadata.get("mlflow_run_id"):
        raise UserError('The candidate has no MLflow run — run "make train" first.')
    _, test, contract = load_processed(project)
    X, y = test[contract.feature_names], test[contract.target]
    held_out = metadata.get("held_out_metrics") or score_candidate(project, X, y, contract)
    version = str(register_candidate(project, metadata["mlflow_run_id"]).version)
    champion = current_champion(project.config.project_slug)
    decision = judge(project, version, champion, held_out, X, y, contract)
    return apply_decision(project, decision)


def score_candidate(project: Project, X: pd.DataFrame, y: pd.Series, contract: Contract) -> dict[str, Any]:
    """Score a candidate that was trained but not evaluated, and record the result in its model.json."""
    model, _ = model_files.load_skops(project.candidate_dir, "model.skops")
    baseline, _ = model_files.load_skops(project.candidate_dir, "baseline.skops")
    held_out = {"model": score(model, X, y, contract), "baseline": score(baseline, X, y, contract)}
    primary = primary_metric(contract.task, project.config.evaluation.primary_metric)
    summary = held_out_summary(contract.task, primary, held_out, len(y))
    record_held_out(project.candidate_dir, summary)
    return {key: summary[key] for key in HELD_OUT_KEYS}


def register_candidate(project: Project, run_id: str) -> Any:
    """Register the run's logged model (once) and point the `challenger` alias at it."""
    import mlflow
    from mlflow import MlflowClient

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
        version = mlflow.register_model(logged[0].model_uri, name)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return version


def current_champion(name: str) -> str | None:
    """The version the `champion` alias points at, or None before the first promotion."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None  # no registered model yet, or no champion alias


def load_champion(name: str) -> Any:
    """Download the champion and load its skops file with our own trusted types (never the artifact's)."""
    import mlflow
    import skops.io as sio
    from mlflow.models import Model

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the CLI output readable
    with tempfile.TemporaryDirectory(prefix="champion-") as downloads:
        uri = f"models:/{name}@{CHAMPION}"
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=downloads))
        file_name = Model.load(local).flavors["sklearn"]["pickled_model"]
        return sio.load(local / file_name, trusted=model_files.TRUSTED_TYPES)


def challenge_champion(
    project: Project, decision: Decision, candidate: float, X: pd.DataFrame, y: pd.Series, contract: Contract
) -> None:
    """Re-score the current champion on the same held-out rows and compare (no champion: nothing to beat)."""
    if decision.champion is None:
        decision.notes.append("no champion yet: the candidate only has to beat the baseline")
        return
    try:
        reference = score(load_champion(decision.name), X, y, contract)[decision.metric]
    except (KeyError, ValueError) as exc:  # the data contract changed since the champion was trained
        decision.notes.append(
            f"champion v{decision.champion} cannot score today's held-out data ({exc}); it is replaced"
        )
        return
    margin = project.config.promotion.margin_vs_champion
    against = f"champion v{decision.champion}"
    decision.comparisons.append(
        compare(contract.task, decision.metric, candidate, against, reference, margin)
    )


def judge(
    project: Project,
    version: str,
    champion: str | None,
    held_out: dict[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    contract: Contract,
) -> Decision:
    """Decide whether the candidate beats the baseline and the champion. Nothing served changes here."""
    cfg = project.config
    metric = primary_metric(contract.task, cfg.evaluation.primary_metric)
    decision = Decision(cfg.project_slug, version, metric, metric_directions(contract.task)[metric])
    decision.champion = champion
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
    if champion == version:
        decision.notes.append(f"v{version} is already the champion; the gate does not demote")
        decision.promoted = True
    else:
        challenge_champion(project, decision, candidate, X, y, contract)
        decision.promoted = all(c.passed for c in decision.comparisons)
    return decision


def publish(candidate_dir: Path, models_dir: Path) -> None:
    """Copy the candidate's files into models/, model.json last; drop files only the old champion had."""
    metadata = model_files.read_metadata(candidate_dir)
    names = [*metadata["files"], MANIFEST_FILE]
    served = models_dir / model_files.METADATA_FILE
    old = model_files.read_metadata(models_dir).get("files", {}) if served.is_file() else {}
    for name in names:
        shutil.copy2(candidate_dir / name, models_dir / name)
    for name in set(old) - set(names):
        (models_dir / name).unlink(missing_ok=True)
    # Last: whoever reads the new model.json finds every file it names already in place.
    shutil.copy2(candidate_dir / model_files.METADATA_FILE, served)


def apply_decision(project: Project, decision: Decision) -> Decision:
    """Make a winning candidate `champion` and copy it to models/; record the verdict on its version."""
    from mlflow import MlflowClient

    client = MlflowClient()
    if decision.promoted:
        client.set_registered_model_alias(decision.name, CHAMPION, decision.version)
        publish(project.candidate_dir, project.models_dir)
    failed = [c.describe(decision.metric, decision.greater) for c in decision.comparisons if not c.passed]
    verdict = "champion" if decision.promoted else "; ".join(failed)[:500]
    client.set_model_version_tag(decision.name, decision.version, "gate", verdict)
    return decision
