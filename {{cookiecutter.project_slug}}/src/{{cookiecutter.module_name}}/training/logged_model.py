"""Log the exported model.skops to MLflow as a standard scikit-learn model, byte for byte.

`mlflow.sklearn.log_model` would serialize the fitted pipeline again with skops, then load it back
and predict on the input example to check it. That needs scikit-learn and skops in the tracking
worker, and importing them there was the longest step of `pipeline` (about 1.4 s). The pipeline
has already exported the model as a skops file and checked it against model_files.TRUSTED_TYPES,
and the tests load it back. So this writes the layout mlflow.sklearn writes around that very file:
an MLmodel with the `sklearn` and `python_function` flavors, the input example, the signature and
the pinned requirements. `mlflow.sklearn.load_model` and `mlflow.pyfunc.load_model` load it like
any logged scikit-learn model (tested), and the registered model is the file models/ serves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..model_files import TRUSTED_TYPES

MODEL_FILE = "model.skops"  # the name mlflow.sklearn gives a skops model in the artifact
CONDA_FILE, PYTHON_ENV_FILE, REQUIREMENTS_FILE = "conda.yaml", "python_env.yaml", "requirements.txt"


def log_exported(
    model_file: Path,
    sha256: str,
    sklearn_version: str,
    signature: Any,
    input_example: Any,
    pip_requirements: list[str],
) -> Any:
    """Log model_file (whose digest must be sha256) as the active run's model `model`."""
    from mlflow.models import Model

    if hashlib.sha256(model_file.read_bytes()).hexdigest() != sha256:
        raise RuntimeError(f"{model_file} changed after export; it is not logged under another digest.")
    return Model.log(
        artifact_path=None,
        name="model",
        flavor=sys.modules[__name__],  # this module's save_model writes the artifact
        flavor_name="mlflow.sklearn",  # what the artifact is: loaders need nothing from here
        serialization_format="skops",
        validate_serving_input=False,  # it would load skops here; test_pipeline loads it instead
        model_file=model_file,
        sklearn_version=sklearn_version,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
    )


def save_model(
    path: str,
    mlflow_model: Any,
    *,
    model_file: Path,
    sklearn_version: str,
    signature: Any,
    input_example: Any,
    pip_requirements: list[str],
    **_: Any,
) -> None:
    """Write the sklearn flavor's files into path (called by mlflow's Model.log)."""
    import yaml
    from mlflow import pyfunc
    from mlflow.models.utils import _save_example
    from mlflow.utils.environment import _process_pip_requirements, _PythonEnv

    os.makedirs(path)
    mlflow_model.signature = signature
    _save_example(mlflow_model, input_example, path)
    shutil.copyfile(model_file, os.path.join(path, MODEL_FILE))
    pyfunc.add_to_model(
        mlflow_model,
        loader_module="mlflow.sklearn",
        model_path=MODEL_FILE,
        conda_env=CONDA_FILE,
        python_env=PYTHON_ENV_FILE,
        predict_fn="predict",
    )
    mlflow_model.add_flavor(
        "sklearn",
        pickled_model=MODEL_FILE,
        sklearn_version=sklearn_version,
        serialization_format="skops",
        code=None,
        skops_trusted_types=TRUSTED_TYPES,
    )
    mlflow_model.model_size_bytes = sum(entry.stat().st_size for entry in Path(path).iterdir())
    mlflow_model.save(os.path.join(path, "MLmodel"))
    conda_env, requirements, _ = _process_pip_requirements([], list(pip_requirements))
    with open(os.path.join(path, CONDA_FILE), "w", encoding="utf-8") as handle:
        yaml.safe_dump(conda_env, stream=handle, default_flow_style=False)
    Path(path, REQUIREMENTS_FILE).write_text("\n".join(requirements), encoding="utf-8")
    _PythonEnv.current().to_yaml(os.path.join(path, PYTHON_ENV_FILE))
