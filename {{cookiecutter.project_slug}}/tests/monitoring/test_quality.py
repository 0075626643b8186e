"""Live quality from fed-back labels: true labels pass, a shifted rule fails (exit 4) and alerts the webhook."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.model_files import read_metadata
from {{ cookiecutter.module_name }}.monitoring.simulate import sample_labels, sample_records
from {{ cookiecutter.module_name }}.project import Project
from {{ cookiecutter.module_name }}.serving.feedback import FeedbackStore, build_label_models
from {{ cookiecutter.module_name }}.serving.prediction_log import PredictionLog
from {{ cookiecutter.module_name }}.serving.runtime import load_contract, load_predictor

from ..serving.test_prediction_log import postgres_url  # noqa: F401 (the fixture: a PostgreSQL server)
from .test_monitor import monitored_project


def serve_and_label(project: Project, rows: int, *, wrong: bool, seed: int = 0) -> list[str]:
    """Score held-out rows one request each, log them as the API does, then feed back their labels;
    return the request ids."""
    contract = load_contract(read_metadata(project.models_dir))
    records = sample_records(project, contract, rows, drift=False, seed=seed)
    actual = sample_labels(project, contract, rows, seed=seed, wrong=wrong)
    predictor, log = load_predictor(project.models_dir), PredictionLog.for_project(project, "1", "onnx")
    log.start()
    request_ids = []
    for record in records:
        scores = predictor.predict([record])
        probabilities = (
            None
            if scores.probabilities is None
            else dict(zip(contract.classes or [], scores.probabilities[0].tolist(), strict=True))
        )
        request_ids.append(
            log.add(
                [record],
                [{"prediction": scores.predictions[0], "probabilities": probabilities}],
                time.perf_counter(),
            )
        )
    log.close()
    label, _ = build_label_models(contract, rows)
    store = FeedbackStore(project.prediction_log_url)
    stored, unknown = store.add(
        [label(request_id=rid, actual=value) for rid, value in zip(request_ids, actual, strict=True)]
    )
    store.dispose()
    assert (stored, unknown) == (rows, []), unknown[:3]
    return request_ids


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP receiver standing in for Slack: it keeps each JSON body it is sent."""
    received: list[dict[str, Any]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_true_labels_pass_live_quality(trained_project: Project, tmp_path: Path) -> None:
    project = monitored_project(trained_project, tmp_path)
    serve_and_label(project, 200, wrong=False)

    assert main(["monitor", "--config", str(project.config_path)]) == 0
    summary = json.loads((project.monitoring_dir / "drift.json").read_text())
    quality = summary["live_quality"]
    assert quality["labelled_rows"] == 200 and quality["failed"] is False, quality
    assert set(summary["verdict"].values()) == {False}
    assert "verdict: all checks passed" in (project.monitoring_dir / "drift.html").read_text()


def test_a_shifted_rule_fails_live_quality_and_alerts_the_webhook(
    trained_project: Project,
    tmp_path: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = webhook
    monkeypatch.setenv("ALERT_WEBHOOK_URL", url)
    project = monitored_project(trained_project, tmp_path)
    serve_and_label(project, 200, wrong=True)

    assert main(["monitor", "--config", str(project.config_path)]) == 4, "4: live quality failed"
    summary = json.loads((project.monitoring_dir / "drift.json").read_text())
    assert summary["verdict"]["live_quality"] is True and summary["verdict"]["input_drift"] is False
    (message,) = received
    assert set(message) == {"text"}, "a Slack-compatible body"
    assert "live_quality" in message["text"] and "docs/failure-cases.md#live-quality" in message["text"]
    assert (Path(__file__).resolve().parents[2] / "docs" / "failure-cases.md").is_file()


def test_too_few_labels_leave_live_quality_unjudged(trained_project: Project, tmp_path: Path) -> None:
    project = monitored_project(trained_project, tmp_path, min_labelled_rows=500)
    serve_and_label(project, 120, wrong=True)

    assert main(["monitor", "--config", str(project.config_path)]) == 0
    assert json.loads((project.monitoring_dir / "drift.json").read_text())["live_quality"]["failed"] is None


def test_feedback_file_stores_valid_labels_and_sets_the_others_aside(
    trained_project: Project, tmp_path: Path
) -> None:
    project = monitored_project(trained_project, tmp_path)
    serve_and_label(project, 110, wrong=False)
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,actual\nnope,1\n", encoding="utf-8")

    assert main(["feedback", str(labels), "--config", str(project.config_path)]) == 0
    refused = (tmp_path / "labels_refused.csv").read_text()
    assert "nope" in refused and "reason" in refused


def test_labels_and_their_correction_reach_live_quality_on_postgresql(
    trained_project: Project,
    tmp_path: Path,
    postgres_url: str,  # noqa: F811 (the imported fixture)
) -> None:
    """The feedback upsert and monitor's join of the labels, on a real PostgreSQL server."""
    project = monitored_project(trained_project, tmp_path, url=postgres_url)
    request_ids = serve_and_label(project, 120, wrong=False)
    assert main(["monitor", "--config", str(project.config_path)]) == 0

    contract = load_contract(read_metadata(project.models_dir))
    wrong = sample_labels(project, contract, 120, seed=0, wrong=True)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "request_id,actual\n"
        + "".join(f"{rid},{value}\n" for rid, value in zip(request_ids, wrong, strict=True))
    )
    assert main(["feedback", str(labels), "--config", str(project.config_path)]) == 0, (
        "a correction of each label"
    )

    assert main(["monitor", "--config", str(project.config_path)]) == 4, (
        "4: live quality failed on the corrected labels"
    )
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == 120, (
            "replaced, not added"
        )
    engine.dispose()
