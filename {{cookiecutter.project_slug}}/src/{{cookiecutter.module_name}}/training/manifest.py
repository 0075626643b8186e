"""manifest.json: what a run depends on (code, data, lock file, config, seed, package versions).

train writes it beside the model and logs it to MLflow; evaluate adds the held-out metrics and a
digest of the test predictions; evaluation/reproduce.py re-runs it and compares.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError
from ..project import Project
from .tracking import MODEL_PACKAGES, git_state, package_versions

MANIFEST_FILE = "manifest.json"
LOCK_FILE = "uv.lock"
# What model.skops needs to load (pinned in the logged model), and the rest a run's results depend on.
MANIFEST_PACKAGES = (*MODEL_PACKAGES, "pyarrow", "pandera", "mlflow", "skl2onnx", "onnxruntime")


def config_digest(config: dict[str, Any]) -> str:
    """Digest of the config's values (comments and key order do not count)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def build_manifest(project: Project, data_digest: str, files: dict[str, str]) -> dict[str, Any]:
    config = project.config.model_dump(mode="json")
    lock = project.root / LOCK_FILE
    git = git_state(project.root)
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_sha": git.get("git_sha"),
        "git_dirty": git.get("git_dirty") == "true",
        "data_digest": data_digest,
        "lock_digest": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None,
        "config_digest": config_digest(config),
        "seed": project.config.split.seed,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(MANIFEST_PACKAGES),
        "files": dict(files),
        "config": config,
    }


def write_manifest(directory: Path, manifest: dict[str, Any]) -> Path:
    path = directory / MANIFEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f'No manifest at {path} — run "make pipeline" first (or pass --manifest).')
    return json.loads(path.read_text(encoding="utf-8"))


def predictions_digest(model: Any, X: pd.DataFrame, task: str) -> str:
    """Digest of the test predictions (and class probabilities), exact to the last bit."""
    digest = hashlib.sha256(np.asarray(model.predict(X)).astype(str).astype("U").tobytes())
    if task == "classification":
        digest.update(np.ascontiguousarray(model.predict_proba(X), dtype=np.float64).tobytes())
    return digest.hexdigest()


def record_evaluation(directory: Path, held_out: dict[str, dict[str, float]], predictions: str) -> Path:
    """Add held-out metrics and the prediction digest to the manifest beside the model."""
    manifest = read_manifest(directory / MANIFEST_FILE)
    manifest["evaluation"] = {"metrics": held_out, "predictions_digest": predictions}
    return write_manifest(directory, manifest)
