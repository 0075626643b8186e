"""Start the API with uvicorn: `{{ cookiecutter.module_name }} serve` (or `make serve`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from .. import model_files
from ..config import CONFIG_ENV_VAR
from ..data.derived import check_hook
from ..project import Project
from .runtime import load_contract
from .telemetry import MULTIPROCESS_ENV_VAR


def check_model(project: Project) -> dict[str, Any]:
    """Fail before the server starts when the model is missing or changed after export, or
    data/derived.py no longer makes the features it was trained on."""
    metadata = model_files.read_metadata(project.models_dir)
    check_hook(load_contract(metadata))
    filename = "model.onnx" if metadata.get("runtime") == "onnx" else "model.skops"
    model_files.verified_path(project.models_dir, filename, metadata)
    return metadata


def run_server(project: Project, *, host: str | None, port: int | None, workers: int | None) -> None:
    """Run uvicorn with the app factory; each worker process loads the model once."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    check_model(project)
    serving = project.config.serving
    workers = workers or serving.workers
    # Workers are fresh processes: they find the config through the environment, not an argument.
    os.environ[CONFIG_ENV_VAR] = str(project.config_path)
    if workers > 1:  # prometheus-client's multiprocess mode: the workers' numbers meet in files here
        os.environ[MULTIPROCESS_ENV_VAR] = tempfile.mkdtemp(prefix="prometheus-")
    # uvicorn's logging, plus this package's logger (model loaded, internal errors).
    loggers = {
        **LOGGING_CONFIG["loggers"],
        __package__: {"handlers": ["default"], "level": "INFO", "propagate": False},
    }
    try:
        uvicorn.run(f"{__package__}.app:create_app", factory=True, host=host or serving.host,
                    port=port or serving.port, workers=workers,
                    access_log=False,  # every request is counted and timed in /metrics instead
                    log_config={**LOGGING_CONFIG, "loggers": loggers})  # fmt: skip
    finally:
        if workers > 1:
            shutil.rmtree(os.environ.pop(MULTIPROCESS_ENV_VAR), ignore_errors=True)
