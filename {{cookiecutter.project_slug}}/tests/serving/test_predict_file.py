"""A real server on a free port, many concurrent callers, and the `predict` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.data.clean import normalise_columns
from {{ cookiecutter.module_name }}.data.load import load_bundled
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.monitoring.simulate import sample_records
from {{ cookiecutter.module_name }}.project import Project, load_project

from ..conftest import PROJECT_ROOT, write_config
from .test_app import to_json_record


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_project: Project) -> Iterator[str]:
    """`{{ cookiecutter.module_name }} serve` in a child process, as `make serve` starts it."""
    port = free_port()
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "serve", "--port", str(port),
               "--config", str(trained_project.config_path)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    output = process.stdout.read() if process.stdout else ""
    pytest.fail(f"the server did not become ready:\n{output}")


@pytest.fixture(scope="module")
def records(trained_project: Project) -> list[dict[str, Any]]:
    contract = Contract.from_dict(read_metadata(trained_project.models_dir)["contract"])
    test = pd.read_parquet(trained_project.processed_dir / "test.parquet")[contract.feature_names]
    return [to_json_record(row, contract) for row in test.to_dict("records")]


def test_live_server_binds_localhost_and_answers(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    malformed = httpx.post(f"{server}/predict", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 422


def test_many_concurrent_requests_each_get_their_own_answer(
    server: str, records: list[dict[str, Any]]
) -> None:
    batch = httpx.post(f"{server}/predict/batch", json={"records": records}, timeout=30)
    expected = batch.json()["predictions"]
    calls = (records * 4)[:200]
    with httpx.Client(base_url=server, timeout=30) as client, ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda record: client.post("/predict", json=record).json(), calls))
    for index, answer in enumerate(answers):
        assert answer["prediction"] == pytest.approx(expected[index % len(records)]["prediction"]), index


def test_metrics_add_up_every_workers_requests(
    trained_project: Project, records: list[dict[str, Any]]
) -> None:
    """With serving.workers > 1, /metrics is prometheus-client's multiprocess sum, whichever worker answers."""
    import re

    port = free_port()
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "serve", "--port", str(port),
               "--workers", "2", "--config", str(trained_project.config_path)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process)
        for record in records[:40]:  # a new connection each: both workers get some
            assert httpx.post(f"{url}/predict", json=record).status_code == 200
        text = httpx.get(f"{url}/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=20)
    served = re.search(r'http_requests_total\{path="/predict",status="200"\} ([\d.]+)', text)
    assert served and float(served.group(1)) == 40, text[:2000]


def test_predict_command_writes_one_prediction_per_row(tmp_path: Path, trained_project: Project) -> None:
    source = trained_project.processed_dir / "test.parquet"
    output = tmp_path / "scored.csv"
    config = str(trained_project.config_path)
    assert main(["predict", str(source), "--output", str(output), "--config", config]) == 0
    scored = pd.read_csv(output)
    assert len(scored) == len(pd.read_parquet(source))
    assert {"prediction", "model_version"} <= set(scored.columns)


def test_predict_command_refuses_a_file_without_the_features(
    tmp_path: Path, trained_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "wrong.csv"
    source.write_text("a,b\n1,2\n")
    assert main(["predict", str(source), "--config", str(trained_project.config_path)]) == 1
    assert "no column" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, pd.DataFrame]:
    """A champion trained on the bundled data plus a day-first date, a label, a number, a row id column
    and free-text notes listed in data.drop_columns."""
    root = tmp_path_factory.mktemp("dated")
    default = load_project(write_config(root)).config.data
    raw = load_bundled(default.source)
    rng = np.random.default_rng(3)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, len(raw)), unit="D")
    raw["Measured On"] = day.strftime("%d/%m/%Y")  # not ISO: the format training found is recorded
    raw["Colour"] = rng.choice(["red", "blue"], len(raw))
    raw["Size"] = rng.normal(size=len(raw)).round(3)
    raw["Row ID"] = np.arange(len(raw))
    raw["Notes"] = rng.choice(["call back", "ok"], len(raw))
    raw.to_csv(root / "raw.csv", index=False)
    roles = {"id_columns": ["Row ID"], "drop_columns": ["Notes"]}
    data = {"source": "csv", "path": "raw.csv", "target": default.target, **roles}
    path = write_config(root, data=data, cv={"folds": 2})  # 2: speed; the tests only score with the model
    for command in ("data", "train", "promote"):  # promote scores the candidate itself
        assert main([command, "--config", str(path)]) == 0
    return load_project(path), raw


def test_raw_held_out_rows_get_the_pipelines_answers_from_the_api_and_predict(
    dated: tuple[Project, pd.DataFrame], tmp_path: Path
) -> None:
    """Each held-out row as it was in the raw file (its date as text) gets, from the API and from
    `predict`, the answer the trained model gives the features training made from it."""
    from fastapi.testclient import TestClient

    from {{ cookiecutter.module_name }}.serving.app import create_app

    project, raw = dated
    config = str(project.config_path)
    held_out = project.processed_dir / "test.parquet"
    assert main(["predict", str(held_out), "--output", str(tmp_path / "own.csv"), "--config", config]) == 0
    own = pd.read_csv(tmp_path / "own.csv")["prediction"].tolist()
    rows = raw.set_index("Row ID").loc[pd.read_parquet(held_out)["row_id"]].reset_index()
    rows.to_csv(tmp_path / "rows.csv", index=False)
    assert main(["predict", str(tmp_path / "rows.csv"), "--config", config]) == 0
    assert pd.read_csv(tmp_path / "rows_predictions.csv")["prediction"].tolist() == pytest.approx(own)
    records = json.loads(normalise_columns(rows).to_json(orient="records"))
    assert "/" in records[0]["measured_on"]
    with TestClient(create_app(project)) as client:
        answer = client.post("/predict/batch", json={"records": records})
        assert answer.status_code == 200, answer.text
        assert [p["prediction"] for p in answer.json()["predictions"]] == pytest.approx(own)
        for drift in (False, True):  # `make simulate` sends dates too
            sampled = sample_records(
                project, Contract.load(project.processed_dir / "schema.json"), 20, drift=drift, seed=0
            )
            assert client.post("/predict/batch", json={"records": sampled}).status_code == 200
        example = client.get("/openapi.json").json()["components"]["schemas"]["Record"]["examples"][0]
        assert client.post("/predict", json=example).status_code == 200
        refused = client.post("/predict", json={**records[0], "measured_on": "31.01.2024"})
    assert refused.status_code == 422
    assert "measured_on" in refused.text and "ISO 8601 (2024-01-31) or %d/%m/%Y" in refused.text


def test_api_reads_labels_as_training_did_and_ignores_dropped_columns(
    dated: tuple[Project, pd.DataFrame],
) -> None:
    from fastapi.testclient import TestClient

    from {{ cookiecutter.module_name }}.serving.app import create_app

    project, raw = dated
    record = json.loads(normalise_columns(raw.head(1)).to_json(orient="records"))[0]
    with TestClient(create_app(project)) as client:
        answers = [
            client.post("/predict", json={**record, "colour": colour}).json()
            for colour in (record["colour"], f"  {record['colour'].upper()} ")
        ]
    assert answers[1].pop("prediction") == answers[0].pop("prediction"), "' RED ' is the label 'red'"
    assert answers[1] == answers[0], answers
    assert "notes: ignored (dropped by data.drop_columns)" in answers[0]["warnings"]


def test_model_card_route_serves_the_card_in_models(dated: tuple[Project, pd.DataFrame]) -> None:
    from fastapi.testclient import TestClient

    from {{ cookiecutter.module_name }}.serving.app import create_app

    project, _ = dated
    card = project.models_dir / "model_card.md"
    card.unlink(missing_ok=True)
    with TestClient(create_app(project)) as client:
        missing = client.get("/model/card")
        card.write_text("# Model card\n", encoding="utf-8")
        served = client.get("/model/card")
    assert missing.status_code == 404 and "make promote" in missing.json()["detail"], missing.text
    assert served.status_code == 200 and served.text == "# Model card\n"
    assert served.headers["content-type"].startswith("text/markdown")


def test_predict_scores_a_raw_file_with_dates_and_untidy_labels(
    dated: tuple[Project, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, raw = dated
    config = str(project.config_path)
    raw = raw.drop(columns=project.config.data.target)
    untidy = raw.head(20).copy()
    untidy["Colour"] = untidy["Colour"].map(lambda value: f"  {value.upper()} ")
    untidy.to_csv(tmp_path / "new.csv", index=False)
    tidy = raw.head(20)
    tidy.to_csv(tmp_path / "tidy.csv", index=False)
    for name in ("new", "tidy"):
        assert main(["predict", str(tmp_path / f"{name}.csv"), "--config", config]) == 0, (
            capsys.readouterr().err
        )
    scored = pd.read_csv(tmp_path / "new_predictions.csv")
    expected = pd.read_csv(tmp_path / "tidy_predictions.csv")
    # Same answers, to the probability: the untidy labels were matched, not scored as unknown.
    pd.testing.assert_frame_equal(scored.filter(like="prob"), expected.filter(like="prob"))
    assert scored["prediction"].tolist() == expected["prediction"].tolist()
    # A value the model cannot read leaves its row unscored, with the reason, never a traceback.
    broken = raw.head(4).astype(object)
    broken.loc[0, "Size"] = "abc"
    broken.loc[1, "Measured On"] = "45/13/2024"
    broken.loc[3, "Size"] = "inf"
    broken.loc[3, "Colour"] = "green"  # never seen in training: refused, as by the API (reject)
    broken.to_csv(tmp_path / "broken.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "broken.csv"), "--config", config]) == 0
    assert "3 rows not scored" in " ".join(capsys.readouterr().err.split())
    scored = pd.read_csv(tmp_path / "broken_predictions.csv")
    assert scored["error"].tolist()[:2] == [
        "size: 'abc' is not a finite number",
        "measured_on: '45/13/2024' is not a date (ISO 8601 (2024-01-31) or %d/%m/%Y)",
    ]
    assert scored["error"].iloc[3].startswith("colour: 'green' was not seen in training (allowed: ")
    assert scored["error"].iloc[3].endswith("; size: 'inf' is not a finite number")
    assert scored["prediction"].isna().tolist() == [True, True, False, True]
    assert scored["prediction"].iloc[2] == expected["prediction"].iloc[2]
    (tmp_path / "empty.csv").write_text("")
    assert main(["predict", str(tmp_path / "empty.csv"), "--config", config]) == 1
    assert "empty.csv: the file is empty" in capsys.readouterr().err
