"""Prove that a run can be repeated: re-run it from its manifest and compare what it recorded.

`reproduce` writes the recorded config into a temporary folder, re-runs data → train → evaluate
there without tracking, and fails unless data digest, held-out metrics and predictions are identical.
"""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..data.prepare import digest, load_processed, prepare_data
from ..errors import UserError
from ..project import Project, load_project
from ..training.manifest import (
    MANIFEST_FILE,
    MANIFEST_PACKAGES,
    config_digest,
    predictions_digest,
    read_manifest,
)
from ..training.tracking import git_state, package_versions
from ..training.train import export, fit_models
from .evaluate import score_held_out

# Compared byte for byte when a reproduced model is exported. model.skops is not: skops names the
# arrays in its zip after memory addresses and stamps the time, so its predictions stand in for it.
BYTE_STABLE_FILES = ("model.onnx",)


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
    """Run data → train → evaluate in the workspace without tracking; return what the manifest records."""
    prepare_data(workspace)
    train, test, contract = load_processed(workspace)
    result = fit_models(workspace, train, contract)
    data_digest = digest(pd.concat([train, test]))
    metadata = export(workspace, result, contract, data_digest, run_id=None)
    X, y = test[contract.feature_names], test[contract.target]
    held_out = score_held_out(workspace, X, y, contract)
    return {
        "data_digest": data_digest,
        "files": metadata["files"],
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
    for name in BYTE_STABLE_FILES:
        recorded_file, new_file = manifest["files"].get(name), rerun_result["files"].get(name)
        if recorded_file and new_file:
            checks.append((recorded_file == new_file, f"{name} byte-identical", f"{name} digest differs"))
    differences = [problem for passed, _, problem in checks if not passed]
    return differences, [ok for passed, ok, _ in checks if passed]


def likely_causes(project: Project, manifest: dict[str, Any]) -> list[str]:
    """What differs from the recorded run besides config and data: package versions and the code."""
    now = {**package_versions(MANIFEST_PACKAGES), "python": platform.python_version()}
    then = {**manifest.get("packages", {}), "python": manifest.get("python")}
    causes = [
        f"{name} {then.get(name)} → {now.get(name)}"
        for name in sorted(set(now) | set(then))
        if then.get(name) != now.get(name)
    ]
    code = git_state(project.root).get("git_sha")
    if manifest.get("git_sha") and code != manifest["git_sha"]:
        causes.append(f"code at {str(code)[:12]}, recorded at {manifest['git_sha'][:12]}")
    return causes


def reproduce(project: Project, manifest_path: Path | None = None) -> tuple[list[str], list[str]]:
    """Re-run the recorded run in a temporary folder; return (checks passed, notes) or raise ReproduceError."""
    path = manifest_path or project.models_dir / MANIFEST_FILE
    manifest = read_manifest(path)
    if "evaluation" not in manifest:
        raise UserError(f'{path} has no held-out results — run "make evaluate" first.')
    with tempfile.TemporaryDirectory(prefix="reproduce-") as tmp:
        result = rerun(make_workspace(project, manifest, Path(tmp)))
    differences, passed = compare(manifest, result)
    causes = likely_causes(project, manifest)
    if differences:
        hint = f" — changed since the run: {', '.join(causes)}" if causes else ""
        raise ReproduceError(f"NOT reproduced ({path}): " + "; ".join(differences) + hint)
    notes = [
        f"{name}: compared through its held-out results, not byte for byte (skops embeds memory addresses, times)"
        for name in manifest["files"]
        if name not in BYTE_STABLE_FILES
    ]
    return passed, [*notes, *(f"changed since the run, without effect: {cause}" for cause in causes)]
