"""POST /feedback: labels of logged predictions stored, unknown ones counted, bad ones a 422; the champion swap."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.monitoring.simulate import sample_records
from {{ cookiecutter.module_name }}.project import Project
from {{ cookiecutter.module_name }}.serving.app import create_app
from {{ cookiecutter.module_name }}.serving.feedback import feedback
from {{ cookiecutter.module_name }}.serving.prediction_table import PredictionTable

from ..monitoring.test_monitor import monitored_project


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def labelled(
    trained_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Project]]:
    project = monitored_project(trained_project, tmp_path_factory.mktemp("feedback"))
    with TestClient(create_app(project)) as client:
        yield client, project


@pytest.fixture(scope="module")
def contract(trained_project: Project) -> Contract:
    return Contract.from_dict(read_metadata(trained_project.models_dir)["contract"])


def a_label(contract: Contract) -> Any:
    return contract.classes[0] if contract.classes else 1.5


def predict_and_wait(client: TestClient, project: Project, contract: Contract) -> str:
    """Score one held-out record; return its request id once the log has written it."""
    (record,) = sample_records(project, contract, 1, drift=False, seed=0)
    response = client.post("/predict", json=record)
    assert response.status_code == 200, response.text
    log = client.app.state.serving.log  # type: ignore[attr-defined]
    wait_for(lambda: log.waiting() == 0)
    return response.headers["X-Request-ID"]


def stored_labels(project: Project) -> list[Any]:
    with PredictionTable(project.prediction_log_url).connect().connect() as connection:
        return [tuple(row) for row in connection.execute(sa.select(feedback))]


def test_feedback_stores_the_label_of_a_logged_prediction_and_counts_unknown_ids(
    labelled: tuple[TestClient, Project], contract: Contract
) -> None:
    client, project = labelled
    request_id = predict_and_wait(client, project, contract)

    body = [
        {"request_id": request_id, "actual": a_label(contract)},
        {"request_id": "nope", "actual": a_label(contract)},
    ]
    response = client.post("/feedback", json=body)

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1, "unknown": 1, "unknown_ids": ["nope"]}
    again = client.post("/feedback", json={"request_id": request_id, "actual": a_label(contract)})
    assert again.json()["stored"] == 1, "a second label for the row replaces the first"
    rows = [row for row in stored_labels(project) if row[2] == request_id]
    assert len(rows) == 1 and rows[0][3:] == (0, a_label(contract)), rows
    assert [c.name for c in feedback.columns] == ["id", "created_at", "request_id", "row_index", "actual"], (
        "only the target is stored: no feature, identifier or sensitive column"
    )


def malformed_bodies(contract: Contract, max_rows: int) -> list[Any]:
    wrong_actual = "not a class" if contract.classes else "1.5"  # a string is no number (strict)
    label = {"request_id": "r-1", "actual": a_label(contract)}
    return ["garbage", [], {}, {"request_id": "r-1"}, {**label, "actual": wrong_actual}, {**label, "actual": None},
            {**label, "features": {}}, {**label, "row_index": -1}, {**label, "request_id": "x" * 41},
            [label] * (max_rows + 1)]  # fmt: skip


def test_malformed_feedback_is_a_422_never_a_5xx(
    labelled: tuple[TestClient, Project], contract: Contract
) -> None:
    client, project = labelled
    for body in malformed_bodies(contract, project.config.serving.max_batch_rows):
        text = body if isinstance(body, str) else json.dumps(body)
        response = client.post("/feedback", content=text, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (body, response.status_code, response.text)
        assert response.json()["detail"][0]["field"], response.text


def test_feedback_with_the_log_off_is_a_409(
    trained_project: Project, tmp_path: Path, contract: Contract
) -> None:
    project = monitored_project(trained_project, tmp_path, log_predictions=False)
    with TestClient(create_app(project)) as client:
        response = client.post("/feedback", json={"request_id": "r-1", "actual": a_label(contract)})
    assert response.status_code == 409
    assert "log_predictions" in response.json()["detail"]


def test_the_api_serves_a_new_champion_without_a_restart(trained_project: Project, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_project.models_dir, models, ignore=shutil.ignore_patterns("candidate"))
    project = monitored_project(trained_project, tmp_path, models_dir=models, reload_seconds=0.05)
    metadata = json.loads((models / "model.json").read_text())
    with TestClient(create_app(project)) as client:
        first = client.get("/model").json()["version"]
        other_problem = {
            **metadata,
            "version": "other",
            "target": "x",
            "contract": {**metadata["contract"], "target": "x"},
        }
        (models / "model.json").write_text(json.dumps(other_problem))
        time.sleep(0.3)
        assert client.get("/model").json()["version"] == first, "another target needs a restart"

        (models / "model.json").write_text(json.dumps({**metadata, "version": "new"}))
        wait_for(lambda: client.get("/model").json()["version"] == "new")
        assert client.get("/ready").json()["model_version"] == "new"
