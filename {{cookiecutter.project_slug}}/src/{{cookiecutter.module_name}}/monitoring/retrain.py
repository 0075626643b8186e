"""`make retrain`: the newest monitoring.retrain_rows labelled predictions, whatever their age, added
to the source rows in data/retrain/training.csv (read by retrain.yaml, your config with data.source: csv).

The data stage treats them like any other row: an exact duplicate counts once, a row that breaks the
contract goes to data/quarantine/. Only the contract's features travel from the log, so identifier
and sensitive columns stay empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from .. import model_files
from ..errors import UserError
from ..project import Project
from ..serving.feedback import feedback
from ..serving.prediction_table import predictions
from .monitor import check_predictions, read_contract, read_labelled_log


def retrain_model(project: Project, show: Callable[[list[str]], None], *, force: bool = False) -> list[str]:
    """Run `monitor` (show prints its lines); when a check fails (or with force), run the pipeline on the
    data with the labels added, as its own command: its output streams, and its gate alone promotes.
    Return what `retrain` prints at the end."""
    lines, code = check_predictions(project, None, None)
    show(lines)
    if code == 2 or (code == 0 and not force):
        return ["nothing retrained" + ("" if code else " (--force retrains anyway)")]
    config, written = write_retrain_data(project)
    show(written)
    before = model_files.read_metadata(project.models_dir)["version"]
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "pipeline", "--config", str(config)]
    if subprocess.run(command, check=False).returncode != 0:
        raise UserError(f"the pipeline on {config} failed — its output above says why.")
    after = model_files.read_metadata(project.models_dir)["version"]
    if after == before:
        return [f"the gate kept {before} as the champion"]
    return [f"{after} is the new champion; a running API serves it within monitoring.reload_seconds"]


def write_retrain_data(project: Project) -> tuple[Path, list[str]]:
    """Write the source rows plus the labelled production rows, and a config reading them; return the
    config and what `retrain` prints."""
    import pandas as pd

    from ..data.clean import normalise_columns
    from ..data.load import load_raw

    contract = read_contract(project)
    labelled = read_labelled(project, project.config.monitoring.retrain_rows)
    if not labelled:
        raise UserError(
            "No labelled predictions in the log — send labels (make feedback, POST /feedback) first."
        )
    source = normalise_columns(load_raw(project))
    production = pd.DataFrame.from_records(
        [features for features, _ in labelled], columns=contract.feature_names
    )
    production[contract.target] = [actual for _, actual in labelled]
    production = production[[name for name in production.columns if name in source.columns]]
    folder = project.processed_dir.parent / "retrain"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "training.csv"
    pd.concat([source, production], ignore_index=True).to_csv(csv, index=False)
    settings = yaml.safe_load(project.config_path.read_text(encoding="utf-8"))
    settings["data"].update(source="csv", path=os.path.relpath(csv, project.root), csv_separator=",")
    config = project.config_path.with_name("retrain.yaml")
    config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return config, [
        f"{len(source)} source rows + {len(production)} labelled predictions → {csv}; config: {config}"
    ]


def read_labelled(project: Project, rows: int) -> list[Any]:
    """The newest labelled predictions: (features as the model saw them, the true target) rows."""
    query = sa.select(predictions.c.features, feedback.c.actual).where(feedback.c.id.is_not(None))
    return read_labelled_log(project, query.order_by(predictions.c.id.desc()).limit(rows))
