"""`monitor` and `simulate`: held-out traffic reads as no drift, shifted traffic as drift, too few rows as 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.monitoring.simulate import sample_records
from {{ cookiecutter.module_name }}.project import Project, load_project
from {{ cookiecutter.module_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.module_name }}.serving.runtime import load_contract, load_predictor

from ..conftest import PROJECT_ROOT, write_config
from ..serving.test_predict_file import free_port, wait_until_ready


def monitored_project(
    trained: Project, root: Path, models_dir: Path | None = None, **monitoring: object
) -> Project:
    """A config in root that reads trained's data and model (or models_dir), and logs to root/log.db."""
    paths = {"data_dir": str(trained.processed_dir.parent), "models_dir": str(models_dir or trained.models_dir),
             "reports_dir": str(root / "reports")}  # fmt: skip
    settings = {"url": f"sqlite:///{root / 'log.db'}", "flush_seconds": 0.05, **monitoring}
    return load_project(write_config(root, paths=paths, monitoring=settings))


def log_traffic(project: Project, rows: int, *, drift: bool, seed: int = 0) -> None:
    """Score simulated rows with the exported model and log them, as the API would."""
    contract = load_contract(read_metadata(project.models_dir))
    records = sample_records(project, contract, rows, drift=drift, seed=seed)
    scores = load_predictor(project.models_dir).predict(records)
    log = PredictionLog.for_project(project, "1", "onnx")
    log.start()
    log.add(records, [{"prediction": value} for value in scores.predictions], time.perf_counter())
    log.close()


def test_monitor_reads_held_out_traffic_as_no_drift(trained_project: Project, tmp_path: Path) -> None:
    project = monitored_project(trained_project, tmp_path)
    log_traffic(project, 300, drift=False, seed=1)

    assert main(["monitor", "--config", str(project.config_path)]) == 0
    summary = json.loads((project.monitoring_dir / "drift.json").read_text())
    assert summary["rows"] == 300
    # A few heavy-tailed columns may read as drifted from sampling noise alone; the verdict may not.
    assert summary["drift_share"] < min(summary["threshold"], 0.2), summary["drifted_columns"]
    assert 'href="trend.png"' in (project.monitoring_dir / "drift.html").read_text(encoding="utf-8")
    assert len(list((project.monitoring_dir / "history").glob("drift-*.json"))) == 1
    assert (project.monitoring_dir / "trend.png").read_bytes().startswith(b"\x89PNG"), "the trend figure"


def test_the_dated_history_draws_the_trend_of_drift_and_live_quality(tmp_path: Path) -> None:
    from matplotlib.image import imread

    from {{ cookiecutter.module_name }}.monitoring.history import TREND, write_history

    for day, share, live in [(1, 0.0, None), (2, 0.2, 0.94), (3, 0.6, 0.80)]:  # day 1: too few labels
        metrics = {} if live is None else {"accuracy": {"live": live, "held_out": 0.95}}
        quality = {"primary_metric": "accuracy", "metrics": metrics, "limit": None if live is None else 0.855}
        summary = {"created": f"2026-01-0{day}T12:00:00+00:00", "drift_share": share, "threshold": 0.5,
                   "live_quality": quality}  # fmt: skip
        write_history(tmp_path, summary)

    assert len(list(tmp_path.glob("history/drift-*.json"))) == 3, "one dated copy a run"
    assert imread(tmp_path / TREND).shape[:2] == (500, 800), "an 8 x 5 in figure at 100 dpi"


def test_monitor_reads_shifted_traffic_as_drift_and_names_the_columns(
    trained_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = monitored_project(trained_project, tmp_path)
    log_traffic(project, 200, drift=False, seed=2)
    log_traffic(project, 300, drift=True, seed=3)

    code = main(["monitor", "--config", str(project.config_path), "--rows", "300"])
    summary = json.loads((project.monitoring_dir / "drift.json").read_text())
    # 1: input drift; 3 when the predictions drifted too (the more serious check names the code)
    assert code == (3 if summary["verdict"]["prediction_drift"] else 1), summary["verdict"]
    assert summary["verdict"]["input_drift"] is True
    assert summary["drift_share"] >= summary["threshold"]
    assert set(summary["drifted_columns"]) == set(project_features(project)), summary["columns"]
    assert summary["outside_training_rows_share"] > 0.1, "shifted numbers leave the training range"
    assert f"drift in {', '.join(summary['drifted_columns'])}" in capsys.readouterr().err


def test_monitor_with_too_few_rows_exits_2_and_says_why(
    trained_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = monitored_project(trained_project, tmp_path, min_rows=50)
    assert main(["monitor", "--config", str(project.config_path)]) == 2
    assert "No prediction log" in capsys.readouterr().err

    log_traffic(project, 20, drift=False)
    assert main(["monitor", "--config", str(project.config_path)]) == 2
    assert "20 predictions in the log" in capsys.readouterr().err
    assert not (project.monitoring_dir / "drift.json").exists()


def test_simulate_against_a_live_server_logs_every_request(trained_project: Project, tmp_path: Path) -> None:
    project = monitored_project(trained_project, tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "serve", "--port", str(port),
               "--config", str(project.config_path)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", server)
        config = ["--config", str(project.config_path), "--port", str(port)]
        assert main(["simulate", *config, "--rows", "60"]) == 0
        assert main(["simulate", *config, "--rows", "40", "--drift"]) == 0
    finally:
        server.terminate()  # a graceful shutdown writes what the log still holds
        server.wait(timeout=20)

    engine = sa.create_engine(project.prediction_log_url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM predictions")).scalar_one()
    engine.dispose()
    assert count == 100, "one log row per request served"


def project_features(project: Project) -> list[str]:
    return load_contract(read_metadata(project.models_dir)).feature_names


def test_many_rare_labels_do_not_read_as_drift_on_unchanged_traffic(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    from {{ cookiecutter.module_name }}.contract import CATEGORICAL, Contract, Feature
    from {{ cookiecutter.module_name }}.monitoring.drift import (
        OTHER_LABEL,
        PREDICTION,
        drift_by_column,
        group_rare_labels,
    )

    rng = np.random.default_rng(0)
    labels = [f"N{i:03d}" for i in range(400)]  # e.g. aircraft tail numbers: a long, flat tail
    shares = 1.0 / np.arange(1, 401)
    shares /= shares.sum()

    def traffic(rows: int) -> pd.DataFrame:
        return pd.DataFrame({"tail": rng.choice(labels, rows, p=shares), PREDICTION: rng.normal(size=rows)})

    contract = Contract("y", "regression", [Feature("tail", CATEGORICAL, categories=labels)])
    project = load_project(write_config(tmp_path))
    reference, current = traffic(5000), traffic(300)

    grouped = group_rare_labels(current.copy(), contract, keep=30)
    assert set(grouped["tail"]) <= {*labels[:30], OTHER_LABEL}
    result = drift_by_column(current, reference, contract, project)
    assert not result["tail"]["drifted"], f"same distribution, score {result['tail']['score']:.3f}"
