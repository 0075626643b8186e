"""Save and load the exported model files, checked against the digests in model.json.

No pickle: skops loads only the types listed here, a list kept in code and reviewed by a person,
never read from the artifact itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import UserError

TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
]
METADATA_FILE = "model.json"


class ModelFileError(UserError):
    """A model file is missing, or differs from the digest recorded at export."""


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_skops(estimator: Any, path: Path) -> str:
    """Write an estimator with skops after checking it needs no type beyond TRUSTED_TYPES."""
    import skops.io as sio

    payload = sio.dumps(estimator)
    untrusted = sorted(set(sio.get_untrusted_types(data=payload)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ModelFileError(
            f"the model needs types not in model_files.TRUSTED_TYPES: {', '.join(untrusted)} — "
            "review them and add them to the list if they are safe."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return hashlib.sha256(payload).hexdigest()


def read_metadata(models_dir: Path) -> dict[str, Any]:
    path = models_dir / METADATA_FILE
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    if (models_dir / "candidate" / METADATA_FILE).is_file():
        raise ModelFileError(
            f"No champion at {path}: the model trained in {models_dir / 'candidate'} was not promoted — "
            'run "make promote" (it promotes the model if it passes the gate, else prints why not).'
        )
    raise ModelFileError(
        f'No model at {path} — run "make pipeline" first (it trains and promotes a champion).'
    )


def write_metadata(models_dir: Path, metadata: dict[str, Any]) -> None:
    models_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(metadata, indent=2, default=str) + "\n"
    (models_dir / METADATA_FILE).write_text(text, encoding="utf-8")


def verified_path(models_dir: Path, filename: str, metadata: dict[str, Any]) -> Path:
    """Return the path of a model file whose digest matches model.json, or raise."""
    path = models_dir / filename
    expected = metadata.get("files", {}).get(filename)
    if expected is None or not path.is_file():
        raise ModelFileError(f'No {filename} in {models_dir} — run "make pipeline" first.')
    if sha256_file(path) != expected:
        raise ModelFileError(
            f"{path} does not match the digest in {METADATA_FILE} — it changed after export; "
            'run "make train" again.'
        )
    return path


def load_skops(models_dir: Path, filename: str = "model.skops") -> tuple[Any, dict[str, Any]]:
    """Load a verified skops file with the trusted-type list; return it with model.json."""
    import skops.io as sio

    metadata = read_metadata(models_dir)
    path = verified_path(models_dir, filename, metadata)
    return sio.load(path, trusted=TRUSTED_TYPES), metadata
