"""The prediction log: nothing lost when the store hiccups, one row per prediction, no sensitive column."""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from {{ cookiecutter.module_name }}.config import Project
from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.monitoring.simulate import to_record
from {{ cookiecutter.module_name }}.serving.app import create_app
from {{ cookiecutter.module_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.module_name }}.serving.prediction_table import PredictionStore, printable_url
from {{ cookiecutter.module_name }}.serving.store_process import StoreProcess, StoreProcessError

from ..serving.test_predict_file import free_port


def with_log(project: Project, url: str) -> Project:
    """The same project, logging to another database."""
    monitoring = project.config.monitoring.model_copy(update={"url": url, "flush_seconds": 0.05})
    return dataclasses.replace(project, config=project.config.model_copy(update={"monitoring": monitoring}))


def held_out_records(project: Project, rows: int) -> list[dict[str, Any]]:
    contract = Contract.from_dict(read_metadata(project.models_dir)["contract"])
    test = pd.read_parquet(project.processed_dir / "test.parquet")[contract.feature_names]
    return [to_record(row, contract) for row in test.head(rows).to_dict("records")]


class FlakyStore(PredictionStore):
    """A real store that refuses its first `failures` writes, like a database restarting."""

    def __init__(self, url: str, failures: int) -> None:
        super().__init__(url)
        self.failures = failures

    def write(self, context: Any, requests: bytes) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))
        super().write(context, requests)


def wait_until_written(log: PredictionLog, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while log.waiting() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_log_keeps_every_record_while_the_store_is_briefly_down(tmp_path: Path) -> None:
    store = FlakyStore(f"sqlite:///{tmp_path / 'log.db'}", failures=3)
    log = PredictionLog(store, model_version="1", runtime="onnx", flush_seconds=0.02)
    log.start()
    for index in range(25):
        log.add([{"x": float(index)}], [{"prediction": "a"}], time.perf_counter())
    wait_until_written(log)
    log.close()

    assert store.count() == 25, "records written after the store came back"
    assert (log.written, log.write_errors, log.dropped) == (25, 3, 0)


def test_log_counts_and_reports_records_it_cannot_keep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(f"sqlite:///{tmp_path / 'log.db'}", failures=10**6)
    log = PredictionLog(store, capacity=10, flush_seconds=0.02)
    log.start()
    with caplog.at_level(logging.WARNING):
        for _ in range(12):
            log.add([{"x": 1.0}], [{"prediction": 1.0}], time.perf_counter())
        log.close(timeout=0.1)

    assert log.dropped == 12, "2 refused by the full buffer, 10 still unwritten at shutdown"
    assert "buffer full" in caplog.text and "could not be written" in caplog.text
    rendered = "\n".join(line for counter in log.metrics() for line in counter.render())
    assert "prediction_log_dropped_total 12" in rendered


def test_writer_process_loses_nothing_when_it_is_killed(tmp_path: Path) -> None:
    store = StoreProcess(f"sqlite:///{tmp_path / 'log.db'}")
    log = PredictionLog(store, model_version="1", runtime="onnx", flush_seconds=0.02)
    log.start()
    try:
        for index in range(10):
            log.add([{"x": float(index)}], [{"prediction": "a"}], time.perf_counter())
        wait_until_written(log)
        assert store._process is not None
        store._process.kill()  # as if the OOM killer took it: the next write starts a new one
        log.add([{"x": 1.0}, {"x": 2.0}], [{"prediction": "a"}, {"prediction": "b"}], time.perf_counter())
        wait_until_written(log)
    finally:
        log.close()
    assert (log.written, log.dropped) == (12, 0)
    assert PredictionStore(f"sqlite:///{tmp_path / 'log.db'}").count() == 12


def test_no_writer_process_starts_after_shutdown(tmp_path: Path) -> None:
    store = StoreProcess(f"sqlite:///{tmp_path / 'log.db'}")
    store.connect()
    store.dispose()
    with pytest.raises(StoreProcessError, match="stopped"):
        store.connect()


def test_reading_back_tolerates_values_from_another_contract() -> None:
    from {{ cookiecutter.module_name }}.serving.prediction_table import as_scored

    features = [("x", "numeric"), ("flag", "boolean"), ("label", "categorical")]
    assert as_scored({"x": "n/a", "flag": "yes", "label": "a"}, features) == {
        "x": None,
        "flag": True,
        "label": "a",
    }
    assert as_scored({"x": 3, "flag": 0}, features) == {"x": 3.0, "flag": False, "label": None}


def test_writer_process_reports_the_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    store = StoreProcess(f"sqlite:///{blocker / 'log.db'}")
    try:
        with pytest.raises(StoreProcessError, match=r"not-a-folder|directory"):
            store.connect()
    finally:
        store.dispose()


def test_api_logs_one_row_per_prediction_and_never_a_sensitive_column(
    challenged_project: Project, tmp_path: Path
) -> None:
    sensitive = challenged_project.config.data.sensitive_columns
    project = with_log(challenged_project, f"sqlite:///{tmp_path / 'log.db'}")
    records = held_out_records(project, 7)
    with TestClient(create_app(project)) as client:
        for record in records[:4]:
            assert client.post("/predict", json=record).status_code == 200
        assert client.post("/predict/batch", json={"records": records[4:]}).status_code == 200
        metrics = client.get("/metrics").text
    # Leaving the client shuts the app down, which writes what is still buffered.

    engine = sa.create_engine(project.prediction_log_url)
    with engine.connect() as connection:
        logged = connection.execute(sa.text("SELECT * FROM predictions ORDER BY id")).mappings().all()
    engine.dispose()
    assert len(logged) == len(records), "one log row per prediction served"
    assert [row["row_index"] for row in logged] == [0, 0, 0, 0, 0, 1, 2]
    assert "prediction_log_written_total" in metrics
    for row in logged:
        features = json.loads(row["features"]) if isinstance(row["features"], str) else row["features"]
        assert set(features) == set(records[0]), "the contract's features, nothing else"
        assert row["model_version"] and row["latency_ms"] > 0 and row["prediction"] is not None
        assert sensitive and not set(sensitive) & set(features), "sensitive columns are never logged"


def test_log_keeps_records_as_sent_and_reads_them_as_scored(trained_project: Project, tmp_path: Path) -> None:
    """A client may write 45 for 45.0: the log keeps its text; `monitor` reads the model's values."""
    from {{ cookiecutter.module_name }}.monitoring.drift import read_log

    project = with_log(trained_project, f"sqlite:///{tmp_path / 'log.db'}")
    contract = Contract.from_dict(read_metadata(project.models_dir)["contract"])
    record = held_out_records(project, 1)[0]
    numbers = [f.name for f in contract.features if f.kind == "numeric" and record[f.name] is not None]
    if not numbers:
        pytest.skip("no numeric feature")
    sent = {**record, numbers[0]: round(record[numbers[0]])}  # a JSON integer
    with TestClient(create_app(project)) as client:
        assert client.post("/predict", json=sent).status_code == 200
        assert client.post("/predict/batch", json={"records": [sent, sent]}).status_code == 200
    frame = read_log(project, contract, rows=10, hours=None)
    assert len(frame) == 3
    assert frame[numbers[0]].dtype == "float64" and set(frame[numbers[0]]) == {
        float(round(record[numbers[0]]))
    }
    assert set(contract.feature_names) <= set(frame.columns)


def test_api_writes_no_log_when_logging_is_off(trained_project: Project, tmp_path: Path) -> None:
    project = with_log(trained_project, f"sqlite:///{tmp_path / 'log.db'}")
    monitoring = project.config.monitoring.model_copy(update={"log_predictions": False})
    config = project.config.model_copy(update={"monitoring": monitoring})
    with TestClient(create_app(dataclasses.replace(project, config=config))) as client:
        assert client.post("/predict", json=held_out_records(project, 1)[0]).status_code == 200
        assert "prediction_log" not in client.get("/metrics").text
    assert not (tmp_path / "log.db").exists()


def test_log_url_from_the_environment_wins_and_is_printed_without_password(
    trained_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = trained_project.root / "monitoring" / "predictions.db"
    assert trained_project.prediction_log_url == f"sqlite:///{default}"
    monkeypatch.setenv("PREDICTION_LOG_URL", "postgresql+psycopg://monitor:s3cret@db.internal/predictions")
    assert trained_project.prediction_log_url.endswith("s3cret@db.internal/predictions")
    assert "s3cret" not in printable_url(trained_project.prediction_log_url)


# --- PostgreSQL, when it is installed (`.ci/run` installs it from the Debian packages) ---------


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    return Path(found[-1]).parent if found[-1] else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free port, with its socket in a temporary folder."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): PostgreSQL path not tested")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[monitor]')")
    # Not tmp_path: as root the server must run as `postgres`, which cannot enter pytest's folders.
    folder = Path(tempfile.mkdtemp(prefix="pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    options = f"-k {folder} -p {port} -c listen_addresses=''"
    try:
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "monitor",
                        "--no-sync"], check=True, capture_output=True)  # fmt: skip
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                        "-o", options, "start"], check=True, capture_output=True)  # fmt: skip
        yield f"postgresql+psycopg://monitor@/postgres?host={folder}&port={port}"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_log_and_monitor_read_work_on_postgresql(trained_project: Project, postgres_url: str) -> None:
    from {{ cookiecutter.module_name }}.monitoring.drift import read_log

    project = with_log(trained_project, postgres_url)
    contract = Contract.from_dict(read_metadata(project.models_dir)["contract"])
    records = held_out_records(project, 30)
    log = PredictionLog.for_project(project, "1", "onnx")
    log.start()
    log.add(records, [{"prediction": "x"}] * len(records), time.perf_counter())
    log.close()

    frame = read_log(project, contract, rows=None, hours=1)
    assert len(frame) == len(records)
    assert list(frame.columns[-len(contract.feature_names) :]) == contract.feature_names
