"""Live quality: the window's labelled predictions scored with the training metrics, against the
held-out figures in models/model.json (the README's "Live quality" says when the check fails)."""

from __future__ import annotations

from typing import Any

from .. import model_files
from ..contract import Contract
from ..metrics import compute_metrics, metric_directions, primary_metric
from ..model_files import ModelFileError
from ..project import Project
from .drift import PREDICTION

ACTUAL = "actual"
PROBABILITIES = "probabilities"


def live_quality(current: Any, contract: Contract, project: Project) -> dict[str, Any]:
    """Score the labelled rows; return {labelled_rows, primary_metric, metrics: {name: {live, held_out}}, limit, failed}.

    `failed` is None when the check was not judged (too few labels, or no held-out figures in models/).
    """
    settings = project.config.monitoring
    labelled = current[current[ACTUAL].notna()]
    primary = primary_metric(contract.task, project.config.evaluation.primary_metric)
    held_out = read_held_out(project)
    result: dict[str, Any] = {"labelled_rows": len(labelled), "min_labelled_rows": settings.min_labelled_rows,
                              "primary_metric": primary, "tolerance": settings.quality_tolerance,
                              "metrics": {}, "limit": None, "failed": None}  # fmt: skip
    if len(labelled) < settings.min_labelled_rows or primary not in held_out:
        return result
    if contract.classes:
        truth, predicted = labelled[ACTUAL].astype(str), labelled[PREDICTION].astype(str)
        rows = labelled[PROBABILITIES].tolist()
        proba = None if None in rows else [[row.get(name, 0.0) for name in contract.classes] for row in rows]
        live = compute_metrics(contract.task, truth, predicted, proba, contract.classes)
    else:
        live = compute_metrics(
            contract.task, labelled[ACTUAL].astype(float), labelled[PREDICTION].astype(float)
        )
    result["metrics"] = {
        name: {"live": value, "held_out": held_out.get(name)} for name, value in live.items()
    }
    # Fails beyond the limit: the held-out figure made worse by quality_tolerance times its size.
    allowed = settings.quality_tolerance * abs(held_out[primary])
    greater_is_better = metric_directions(contract.task)[primary]
    limit = held_out[primary] - allowed if greater_is_better else held_out[primary] + allowed
    failed = live[primary] < limit if greater_is_better else live[primary] > limit
    result.update(limit=limit, failed=bool(failed))
    return result


def read_held_out(project: Project) -> dict[str, float]:
    """The served model's held-out metrics ({} when models/ holds no champion)."""
    try:
        metadata = model_files.read_metadata(project.models_dir)
    except ModelFileError:  # no champion yet: live quality is not judged, drift still is
        return {}
    return (metadata.get("held_out_metrics") or {}).get("model", {})
