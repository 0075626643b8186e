"""The prediction log: nothing lost or written twice when the store hiccups, one row per prediction."""

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
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.monitoring.simulate import to_record
from {{ cookiecutter.module_name }}.project import Project
from {{ cookiecutter.module_name }}.serving.app import create_app
from {{ cookiecutter.module_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.module_name }}.serving.prediction_table import PredictionTable, printable_url

from ..serving.test_predict_file import free_port


def with_log(project: Project, url: str) -> Project:
    """The same project, logging to another database."""
    monitoring = project.config.monitoring.model_copy(update={"url": url, "flush_seconds": 0.05})
    return dataclasses.replace(project, config=project.config.model_copy(update={"monitoring": monitoring}))


def held_out_records(project: Project, rows: int) -> list[dict[str, Any]]:
    contract = Contract.from_dict(read_metadata(project.models_dir)["contract"])
    test = pd.read_parquet(project.processed_dir / "test.parquet")[contract.feature_names]
    return [to_record(row, contract) for row in test.head(rows).to_dict("records")]


class FlakyTable(PredictionTable):
    """A real table whose first `failures` writes fail, like a database restarting.

    With `after_commit`, each failing write commits first, as when the answer to a COMMIT is lost.
    """

    def __init__(self, url: str, failures: int, after_commit: bool = False) -> None:
        super().__init__(url)
        self.failures, self.after_commit = failures, after_commit

    def insert_rows(self, rows: list[dict[str, Any]]) -> None:
        if self.failures > 0:
            self.failures -= 1
            if self.after_commit:
                super().insert_rows(rows)
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection refused"))
        super().insert_rows(rows)


def counted(log: PredictionLog, name: str) -> float:
    return log.telemetry.registry.get_sample_value(f"prediction_log_{name}_total") or 0.0


def wait_until_written(log: PredictionLog, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while log.waiting() and time.monotonic() < deadline:
        time.sleep(0.02)


def add_rows(log: PredictionLog, count: int) -> None:
    for index in range(count):
        log.add([{"x": float(index)}], [{"prediction": "a"}], time.perf_counter())


@pytest.mark.parametrize("after_commit", [False, True], ids=["refused", "committed-but-unacknowledged"])
def test_log_writes_every_record_once_while_the_store_is_briefly_down(
    tmp_path: Path, after_commit: bool
) -> None:
    table = FlakyTable(f"sqlite:///{tmp_path / 'log.db'}", failures=3, after_commit=after_commit)
    log = PredictionLog(table, model_version="1", runtime="onnx", flush_seconds=0.02)
    log.start()
    add_rows(log, 25)
    wait_until_written(log)
    log.close()

    assert table.count() == 25, "written after the store came back, and a retried batch only once"
    assert (counted(log, "written"), counted(log, "write_errors"), counted(log, "dropped")) == (25, 3, 0)


def test_log_counts_and_reports_records_it_cannot_keep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table = FlakyTable(f"sqlite:///{tmp_path / 'log.db'}", failures=10**6)
    log = PredictionLog(table, capacity=10, flush_seconds=0.02)
    with caplog.at_level(logging.WARNING):
        add_rows(log, 12)  # before the writer starts: the queue holds 10
        log.start()
        log.close(timeout=0.1)

    assert counted(log, "dropped") == 12, "2 refused by the full queue, 10 still unwritten at shutdown"
    assert "queue full" in caplog.text and "could not be written" in caplog.text


def test_a_slow_store_never_slows_the_caller(tmp_path: Path) -> None:
    release = threading.Event()

    class StuckTable(PredictionTable):
        def insert_rows(self, rows: list[dict[str, Any]]) -> None:
            release.wait(10)
            super().insert_rows(rows)

    log = PredictionLog(StuckTable(f"sqlite:///{tmp_path / 'log.db'}"), flush_seconds=0.01)
    log.start()
    add_rows(log, 1)
    time.sleep(0.1)  # the writer is now stuck in its first insert
    started = time.perf_counter()
    add_rows(log, 1000)
    elapsed = time.perf_counter() - started
    release.set()
    wait_until_written(log)
    log.close()
    assert elapsed < 0.5, f"1000 records took {elapsed:.2f} s to queue behind a stuck store"
    assert counted(log, "written") == 1001


def test_api_logs_one_row_per_prediction_and_never_a_sensitive_column(
    challenged_project: Project, tmp_path: Path
) -> None:
    sensitive = challenged_project.config.data.sensitive_columns
    project = with_log(challenged_project, f"sqlite:///{tmp_path / 'log.db'}")
    records = held_out_records(project, 7)
    # The full row, as the data has it: sensitive columns are accepted, ignored and never logged.
    sent = [{**record, **dict.fromkeys(sensitive, "secret")} for record in records]
    with TestClient(create_app(project)) as client:
        for record in sent[:4]:
            response = client.post("/predict", json=record)
            assert response.status_code == 200
            assert f"{sensitive[0]}: ignored (a sensitive column)" in response.json()["warnings"]
        assert client.post("/predict/batch", json={"records": sent[4:]}).status_code == 200
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


def test_log_keeps_records_as_scored_and_monitor_reads_them(trained_project: Project, tmp_path: Path) -> None:
    """A client may write 45 for 45.0: the log keeps the value the model saw, and `monitor` reads it."""
    from {{ cookiecutter.module_name }}.monitoring.monitor import read_log

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
    from {{ cookiecutter.module_name }}.monitoring.monitor import read_log

    project = with_log(trained_project, postgres_url)
    contract = Contract.from_dict(read_metadata(project.models_dir)["contract"])
    records = held_out_records(project, 30)
    log = PredictionLog.for_project(project, "1", "onnx")
    log.start()
    log.add(records, [{"prediction": "x"}] * len(records), time.perf_counter())
    log.close()
    table = PredictionTable(postgres_url)
    table.insert_rows([row._asdict() for row in read_rows(table)])
    assert table.count() == len(records), "a retried batch adds nothing"
    table.dispose()

    frame = read_log(project, contract, rows=None, hours=1)
    assert len(frame) == len(records)
    assert list(frame.columns[-len(contract.feature_names) :]) == contract.feature_names


def read_rows(table: PredictionTable) -> list[Any]:
    from {{ cookiecutter.module_name }}.serving.prediction_table import predictions

    columns = [column for column in predictions.c if column.name != "id"]
    with table.connect().connect() as connection:
        return list(connection.execute(sa.select(*columns)).all())
