"""The promotion gate: the `challenger` becomes `champion` (copied to models/, which the API serves)
only if it beats the baseline and a comparable champion by the configured margins."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
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
from . import figures
from .evaluate import score_held_out
from .model_card import refresh_readme, results_table

CHALLENGER = "challenger"
CHAMPION = "champion"


@dataclass
class Decision:
    """What the gate decided for one registered version, and why."""

    name: str
    version: str
    champion: str | None  # the champion's version before this decision
    comparisons: list[tuple[bool, str]] = field(default_factory=list)  # (passed, the line saying so)
    notes: list[str] = field(default_factory=list)
    promoted: bool = False

    def describe(self) -> list[str]:
        """The decision as the CLI prints it: each comparison, the notes, and what is served now."""
        lines = [f"registered {self.name} v{self.version} as challenger"]
        lines += [text for _, text in self.comparisons]
        lines += [f"note: {note}" for note in self.notes]
        if self.promoted:
            return [*lines, f"[green]v{self.version} is the champion[/green]; models/ serves it"]
        served = "the champion in models/ is unchanged" if self.champion else "nothing is served yet"
        return [*lines, f"v{self.version} stays challenger; {served}"]


def compare(
    task: str, metric: str, candidate: float, against: str, reference: float, margin: float
) -> tuple[bool, str]:
    """Whether the candidate beats the reference by more than the margin, and the line saying so."""
    passed, greater = beats(task, metric, candidate, reference, margin), metric_directions(task)[metric]
    needed = reference + margin if greater else reference - margin
    text = (
        f"{'passed' if passed else 'FAILED'}: {metric} {candidate:.4f} vs {against} {reference:.4f} "
        f"(margin {margin:g}: needs {'>' if greater else '<'} {needed:.4f})"
    )
    return passed, text


def promote_model(project: Project) -> Decision:
    """Run the gate for models/candidate/: register it, judge it, and publish it if it wins."""
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the CLI output readable
    metadata = model_files.read_metadata(project.candidate_dir)
    if not metadata.get("mlflow_run_id"):
        raise UserError('The candidate has no MLflow run — run "make train" first.')
    _, test, contract = load_processed(project)
    X, y = test[contract.feature_names], test[contract.target]
    held_out = metadata.get("held_out_metrics") or score_held_out(project, X, y, contract)
    version = str(register_candidate(project, metadata["mlflow_run_id"]).version)
    decision = judge(
        project, version, current_champion(project.config.project_slug), held_out, X, y, contract
    )
    client = MlflowClient()
    if decision.promoted:
        client.set_registered_model_alias(decision.name, CHAMPION, decision.version)
        publish(project)
    failed = [text for passed, text in decision.comparisons if not passed]
    verdict = "champion" if decision.promoted else "; ".join(failed)[:500]
    client.set_model_version_tag(decision.name, decision.version, "gate", verdict)  # why, in the registry
    return decision


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


def current_champion(name: str) -> Any | None:
    """The model version the `champion` alias points at, or None before the first promotion."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None  # no registered model yet, or no champion alias


def problem_change(champion: Any, contract: Contract) -> str | None:
    """Say how the champion's problem (target, task, input columns) differs from this model's, or None."""
    import mlflow

    schema = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/schema.json")
    old, new = {f["name"] for f in schema["features"]}, set(contract.feature_names)
    if (schema["target"], schema["task"]) != (contract.target, contract.task):
        change = f"and this model predicts `{contract.target}` ({contract.task})"
    elif old != new:
        change = f"from other columns (added: {', '.join(sorted(new - old)) or 'none'}; removed: "
        change += f"{', '.join(sorted(old - new)) or 'none'})"
    else:
        return None
    return (
        f"the champion v{champion.version} predicts `{schema['target']}` ({schema['task']}) {change}: not "
        f"comparable, so this model is judged against the baseline only and, if it passes, replaces v{champion.version}"
    )


def judge(
    project: Project,
    version: str,
    champion: Any | None,
    held_out: dict[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    contract: Contract,
) -> Decision:
    """Decide whether the candidate beats the baseline and the champion. Nothing served changes here."""
    import mlflow

    cfg, task = project.config, contract.task
    primary = primary_metric(task, cfg.evaluation.primary_metric)
    decision = Decision(cfg.project_slug, version, None if champion is None else str(champion.version))
    candidate = held_out["model"]
    for metric in baseline_metrics(task, primary):  # the primary metric with its margin, a guard without
        margin = cfg.promotion.margin_vs_baseline if metric == primary else 0.0
        reference = held_out["baseline"][metric]
        decision.comparisons.append(
            compare(task, metric, candidate[metric], "dummy baseline", reference, margin)
        )
    if champion is None:
        decision.notes.append("no champion yet: the candidate only has to beat the baseline")
    elif decision.champion == version:
        decision.notes.append(f"v{version} is already the champion; the gate does not demote")
    elif change := problem_change(champion, contract):
        decision.notes.append(change)
    else:
        against = f"champion v{decision.champion}"
        # The skops types it may contain are the ones training logged with it (TRUSTED_TYPES).
        old_model = mlflow.sklearn.load_model(f"models:/{decision.name}@{CHAMPION}")
        try:
            reference = score(old_model, X, y, contract)[primary]
        except (KeyError, ValueError) as exc:  # same columns, other values (a new class, a new type)
            decision.notes.append(f"{against} cannot score today's held-out data ({exc}); it is replaced")
        else:
            margin = cfg.promotion.margin_vs_champion
            decision.comparisons.append(
                compare(task, primary, candidate[primary], against, reference, margin)
            )
    decision.promoted = decision.champion == version or all(passed for passed, _ in decision.comparisons)
    return decision


def publish(project: Project) -> None:
    """Copy the candidate's files into models/, model.json last, and show its results in the README."""
    candidate_dir, models_dir = project.candidate_dir, project.models_dir
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
    refresh_readme(project.root / "README.md", results_table(metadata, copy_results(project, metadata)))


def copy_results(project: Project, metadata: dict[str, Any]) -> list[Path]:
    """Copy the champion's model card, metrics.json and figures to results/; return the figures copied.

    The card also goes to models/, for the API's GET /model/card. Both stay empty when reports/
    describes another model (`evaluate` was skipped).
    """
    shutil.rmtree(project.results_dir, ignore_errors=True)
    (project.models_dir / "model_card.md").unlink(missing_ok=True)
    metrics_path = project.reports_dir / "metrics.json"
    evaluated = json.loads(metrics_path.read_text())["model_version"] if metrics_path.is_file() else None
    if evaluated != metadata["version"]:
        return []
    (project.results_dir / "figures").mkdir(parents=True)
    for name in ("model_card.md", "metrics.json"):
        shutil.copy2(project.reports_dir / name, project.results_dir / name)
    shutil.copy2(project.reports_dir / "model_card.md", project.models_dir / "model_card.md")
    drawn = [path for path in figures.figure_files(project.figures_dir, metadata["task"]) if path.is_file()]
    return [Path(shutil.copy2(path, project.results_dir / "figures" / path.name)) for path in drawn]
