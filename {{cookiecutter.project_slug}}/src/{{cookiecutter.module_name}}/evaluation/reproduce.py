"""Re-run a recorded run from its manifest in a temporary folder, without tracking, and compare.

The re-run must give the same data digest, held-out metrics and test predictions.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..data.prepare import digest, load_processed, prepare_data
from ..errors import UserError
from ..project import Project, load_project
from ..training.manifest import MANIFEST_FILE, config_digest, predictions_digest, read_manifest
from ..training.train import export, fit_models
from .evaluate import score_held_out


class ReproduceError(UserError):
    """A re-run did not give the recorded results."""


def make_workspace(project: Project, manifest: dict[str, Any], root: Path) -> Project:
    """Write the recorded config into an empty folder; a relative CSV or SQLite path still points at the project."""
    config = json.loads(json.dumps(manifest["config"]))
    data = config["data"]
    if data["source"] == "csv" and not data["path"].startswith(("http://", "https://")):
        data["path"] = str(project.path(data["path"]))
    if (
        data["source"] == "sql"
        and data["url"].startswith("sqlite:///")
        and not data["url"].startswith("sqlite:////")
    ):
        data["url"] = f"sqlite:///{project.path(data['url'].removeprefix('sqlite:///'))}"
    config["tracking"]["uri"] = "sqlite:///mlflow.db"
    # Relative paths inside the temporary folder: a re-run must never write over the real outputs.
    config["paths"] = {"data_dir": "data", "models_dir": "models", "reports_dir": "reports"}
    path = root / "configs" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_project(path)


def rerun(workspace: Project) -> dict[str, Any]:
    """Run data → train → evaluate in the workspace; return what the manifest records."""
    prepare_data(workspace)
    train, test, contract = load_processed(workspace)
    result = fit_models(workspace, train, contract)
    data_digest = digest(pd.concat([train, test]))
    export(workspace, result, contract, data_digest, run_id=None)
    X, y = test[contract.feature_names], test[contract.target]
    held_out = score_held_out(workspace, X, y, contract)
    return {
        "data_digest": data_digest,
        "metrics": {who: held_out[who] for who in ("baseline", "model")},
        "predictions_digest": predictions_digest(result.model, X, contract.task),
    }


def same(recorded: Any, again: Any) -> bool:
    return recorded == again or (recorded != recorded and again != again)  # NaN in both is the same


def compare(manifest: dict[str, Any], rerun_result: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Return (differences, checks that passed) between the recorded run and the re-run."""
    evaluation, metrics = manifest["evaluation"], rerun_result["metrics"]
    recorded, again = manifest["data_digest"], rerun_result["data_digest"]
    changed = [
        f"{who} {name}: recorded {value!r}, re-run {metrics[who].get(name)!r}"
        for who, values in evaluation["metrics"].items()
        for name, value in values.items()
        if not same(value, metrics[who].get(name))
    ]
    checks = [  # (the check passed, what it says when it passes, what it says when it fails)
        (
            config_digest(manifest["config"]) == manifest["config_digest"],
            "config matches its digest",
            "the recorded config does not match its digest: the manifest was edited",
        ),
        (
            recorded == again,
            "data digest identical",
            f"data digest {recorded[:12]} → {again[:12]}: the data or its split changed",
        ),
        (not changed, "held-out metrics identical", "; ".join(changed)),
        (
            evaluation["predictions_digest"] == rerun_result["predictions_digest"],
            "test predictions identical",
            "test predictions differ",
        ),
    ]
    differences = [problem for passed, _, problem in checks if not passed]
    return differences, [ok for passed, ok, _ in checks if passed]


def reproduce(project: Project, manifest_path: Path | None = None) -> tuple[list[str], list[str]]:
    """Re-run the recorded run; return (checks passed, notes) or raise ReproduceError."""
    path = manifest_path or project.models_dir / MANIFEST_FILE
    manifest = read_manifest(path)
    if "evaluation" not in manifest:
        raise UserError(f'{path} has no held-out results — run "make evaluate" first.')
    with tempfile.TemporaryDirectory(prefix="reproduce-") as tmp:
        result = rerun(make_workspace(project, manifest, Path(tmp)))
    differences, passed = compare(manifest, result)
    if differences:
        raise ReproduceError(
            f"NOT reproduced ({path}): {'; '.join(differences)} — if the config and data are unchanged, "
            "compare the package versions and git_sha it records with this checkout's"
        )
    return passed, ["model.skops is compared through its predictions (skops stamps times, memory addresses)"]
