"""The prediction API: every endpoint, every kind of bad input, and the import boundary."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.module_name }}.contract import (
    BOOLEAN,
    CATEGORICAL,
    MAX_LISTED_CATEGORIES,
    MISSING_CATEGORY,
    NUMERIC,
    Contract,
)
from {{ cookiecutter.module_name }}.model_files import load_skops, read_metadata
from {{ cookiecutter.module_name }}.project import Project, load_project
from {{ cookiecutter.module_name }}.serving.app import create_app
from {{ cookiecutter.module_name }}.serving.runtime import FLOAT32_MAX, Scores, SkopsPredictor
from {{ cookiecutter.module_name }}.serving.schemas import input_limit

from ..conftest import PROJECT_ROOT, write_config


@pytest.fixture(scope="module")
def client(trained_project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(trained_project)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def contract(trained_project: Project) -> Contract:
    return Contract.from_dict(read_metadata(trained_project.models_dir)["contract"])


@pytest.fixture(scope="module")
def held_out(trained_project: Project, contract: Contract) -> list[dict[str, Any]]:
    """Held-out rows as JSON records (missing numbers as null, as a client would send them)."""
    test = pd.read_parquet(trained_project.processed_dir / "test.parquet")[contract.feature_names]
    return [to_json_record(row, contract) for row in test.to_dict("records")]


def to_json_record(row: dict[str, Any], contract: Contract) -> dict[str, Any]:
    record = {}
    for feature in contract.features:
        value = row[feature.name]
        if feature.kind == CATEGORICAL:
            record[feature.name] = None if value == MISSING_CATEGORY else value
        elif feature.kind == BOOLEAN:
            record[feature.name] = None if pd.isna(value) else bool(value)
        else:
            record[feature.name] = None if pd.isna(value) else float(value)
    return record


@pytest.fixture
def record(held_out: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete held-out row (no nulls), to break one field at a time."""
    return dict(next(row for row in held_out if None not in row.values()))


def first(contract: Contract, kind: str, **conditions: Any) -> str | None:
    for feature in contract.features:
        if feature.kind == kind and all(getattr(feature, key) == value for key, value in conditions.items()):
            return feature.name
    return None


def post_raw(client: TestClient, path: str, body: str, content_type: str = "application/json") -> Any:
    return client.post(path, content=body.encode(), headers={"content-type": content_type})


# --- endpoints ------------------------------------------------------------------------------


def test_health_returns_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_demo_page_is_a_form_over_the_api_routes(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for route in ('"/openapi.json"', '"/predict"', '"/docs"'):
        assert route in page.text, f"the demo page (serving/demo.html) uses {route}"


def test_ready_names_model_version_and_runtime(client: TestClient, trained_project: Project) -> None:
    response = client.get("/ready")
    metadata = read_metadata(trained_project.models_dir)
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "model_version": metadata["version"],
        "runtime": metadata["runtime"],
    }


def test_model_says_runtime_why_metrics_and_contract(
    client: TestClient, contract: Contract, trained_project: Project
) -> None:
    info = client.get("/model").json()
    assert info["runtime"] in {"onnx", "skops"}
    assert info["runtime_reason"], "the runtime choice is explained"
    assert info["cv_metrics"]["model"]
    served = read_metadata(trained_project.models_dir).get("held_out_metrics")
    assert info["held_out_metrics"] == served, "the served model's own held-out metrics, from model.json"
    assert [feature["name"] for feature in info["contract"]["features"]] == contract.feature_names


def test_predict_returns_prediction_and_model_version(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    body = client.post("/predict", json=record).json()
    assert body["model_version"] == client.get("/ready").json()["model_version"]
    assert body["warnings"] == []
    if contract.task == "classification":
        assert body["prediction"] in contract.classes
        assert set(body["probabilities"]) == set(contract.classes)
        assert math.isclose(sum(body["probabilities"].values()), 1.0, abs_tol=1e-5)
        assert body["prediction"] == max(body["probabilities"], key=body["probabilities"].get)
    else:
        assert isinstance(body["prediction"], float)


def test_predict_batch_matches_the_exported_pipeline_row_by_row(
    client: TestClient, trained_project: Project, held_out: list[dict[str, Any]], contract: Contract
) -> None:
    response = client.post("/predict/batch", json={"records": held_out})
    model, _ = load_skops(trained_project.models_dir)
    test = pd.read_parquet(trained_project.processed_dir / "test.parquet")[contract.feature_names]
    served = [answer["prediction"] for answer in response.json()["predictions"]]
    assert response.status_code == 200
    if contract.task == "classification":
        assert served == [str(label) for label in model.predict(test)]
    else:
        assert served == pytest.approx(model.predict(test).tolist(), rel=1e-5)


def test_answers_match_the_documented_response_models(
    client: TestClient, held_out: list[dict[str, Any]], record: dict[str, Any]
) -> None:
    models = client.app.state.serving.models
    single = client.post("/predict", json=record)
    batch = client.post("/predict/batch", json={"records": held_out})
    assert single.headers["content-type"] == batch.headers["content-type"] == "application/json"
    assert models.response.model_validate_json(single.content, strict=True).model_dump() == single.json()
    parsed = models.batch_response.model_validate_json(batch.content, strict=True)
    assert parsed.model_dump() == batch.json()
    assert len(parsed.predictions) == len(held_out)


def test_metrics_exposes_requests_predictions_and_model(client: TestClient, record: dict[str, Any]) -> None:
    client.post("/predict", json=record)
    text = client.get("/metrics").text
    assert 'http_requests_total{path="/predict",status="200"}' in text
    assert "http_request_duration_seconds_bucket" in text
    assert text.startswith("# HELP"), "prometheus-client's text format"
    assert "prediction_batch_rows_count" in text
    assert "model_info{" in text
    assert "predictions_total{" in text or "prediction_value_count" in text


def test_openapi_documents_fields_ranges_and_examples(client: TestClient, contract: Contract) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert set(schema["properties"]) - {contract.target, *contract.id_columns, *contract.sensitive_columns,
                                        *contract.ignored} == set(contract.feature_names)  # fmt: skip
    assert set(schema["required"]) == set(contract.feature_names), "ignored columns are optional"
    assert schema["examples"], "a real example from the training data"
    number = first(contract, NUMERIC)
    if number:
        assert "Training range" in schema["properties"][number]["description"]


def test_target_and_sensitive_columns_are_accepted_and_ignored(
    client: TestClient, contract: Contract, record: dict[str, Any]
) -> None:
    full_row = {**record, contract.target: "anything", **dict.fromkeys(contract.sensitive_columns, "x")}
    plain, full = (client.post("/predict", json=body).json() for body in (record, full_row))
    assert full["prediction"] == plain["prediction"], "ignored columns do not change the answer"
    ignored = [*contract.sensitive_columns, contract.target]
    assert [warning.split(":")[0] for warning in full["warnings"] if "ignored (" in warning] == ignored


# --- bad input: always 4xx with the field and the reason, never 5xx ----------------------------


def test_predict_missing_field_returns_422(client: TestClient, record: dict[str, Any]) -> None:
    name = next(iter(record))
    del record[name]
    response = client.post("/predict", json=record)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": name, "reason": "required field is missing"}]}


def test_predict_extra_field_returns_422(client: TestClient, record: dict[str, Any]) -> None:
    response = client.post("/predict", json={**record, "customer_id": 7})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "customer_id"


def test_a_misspelled_field_is_refused_with_the_closest_known_name(
    client: TestClient, record: dict[str, Any]
) -> None:
    name = next(iter(record))
    response = client.post("/predict", json={**record, name + "s": record[name]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["reason"].endswith(f"did you mean '{name}'?")


def test_predict_wrong_type_returns_422(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, NUMERIC)
    if name is None:
        pytest.skip("no numeric feature")
    response = client.post("/predict", json={**record, name: "twelve"})
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": name, "reason": "Input should be a valid number"}]


@pytest.mark.parametrize("body", [{"records": None}, {"records": [None]}])
def test_a_null_record_is_not_called_a_missing_feature(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/predict/batch", json=body)
    assert response.status_code == 422
    assert "missing values" not in response.json()["detail"][0]["reason"]


def test_predict_null_where_not_allowed_returns_422(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, NUMERIC, missing_share=0.0)
    if name is None:
        pytest.skip("every numeric feature had missing values in training")
    response = client.post("/predict", json={**record, name: None})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "field": name,
            "reason": "null is not allowed here: training had no missing values in this feature — send a value",
        }
    ]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_predict_non_finite_number_returns_422(
    client: TestClient, record: dict[str, Any], contract: Contract, literal: str
) -> None:
    name = first(contract, NUMERIC)
    if name is None:
        pytest.skip("no numeric feature")
    body = json.dumps({**record, name: "PLACEHOLDER"}).replace('"PLACEHOLDER"', literal)
    response = post_raw(client, "/predict", body)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": name, "reason": "must be a finite number (NaN and infinity are not allowed)"}
    ]


def test_predict_number_beyond_the_limit_returns_422(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    feature = next((feature for feature in contract.features if feature.kind == NUMERIC), None)
    if feature is None:
        pytest.skip("no numeric feature")
    response = client.post("/predict", json={**record, feature.name: 1e300})
    assert response.status_code == 422
    limit = input_limit(feature)
    reason = f"must be between {-limit:g} and {limit:g} (beyond that the model's 32-bit arithmetic overflows)"
    assert response.json()["detail"] == [{"field": feature.name, "reason": reason}]


def test_predict_unknown_category_returns_422_naming_the_labels(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, CATEGORICAL)
    if name is None:
        pytest.skip("no categorical feature")
    response = client.post("/predict", json={**record, name: "never-seen-label"})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["field"] == name
    assert contract.features[contract.feature_names.index(name)].categories[0] in detail["reason"]


def test_predict_malformed_json_returns_422(client: TestClient) -> None:
    response = post_raw(client, "/predict", '{"oops": ')
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "body"
    assert response.json()["detail"][0]["reason"].startswith("malformed JSON")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"island": "\xff"}', "malformed JSON (not UTF-8 text)"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON (nested too deeply)"),
        (b'{"year": ' + b"9" * 5000 + b"}", "malformed JSON (cannot be decoded)"),
    ],
    ids=["not-utf8", "nested-too-deeply", "5000-digit-integer"],
)
def test_predict_undecodable_body_returns_422(client: TestClient, body: bytes, reason: str) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, "not FastAPI's undocumented 400"
    assert response.json() == {"detail": [{"field": "body", "reason": reason}]}


def test_predict_non_finite_answer_returns_422(
    trained_project: Project, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, NUMERIC)
    if name is None:
        pytest.skip("no numeric feature")
    app = create_app(trained_project)
    with TestClient(app) as test_client:
        score = app.state.serving.score

        async def overflowing(
            rows: list[dict[str, Any]],
        ) -> Scores:  # NaN where `name` is -1: float32 overflow
            scores = await score(rows)
            bad = [row[name] == -1 for row in rows]
            if scores.probabilities is None:
                values = zip(bad, scores.predictions, strict=True)
                return Scores([math.nan if flag else value for flag, value in values])
            scores.probabilities[bad] = math.nan
            return scores

        app.state.serving.score = overflowing
        single = test_client.post("/predict", json={**record, name: -1})
        batch = test_client.post("/predict/batch", json={"records": [record, {**record, name: -1}]})
    reason = "values too far outside the training range: the model's answer is not a finite number"
    assert (single.status_code, single.json()) == (422, {"detail": [{"field": "body", "reason": reason}]})
    assert (batch.status_code, batch.json()) == (422, {"detail": [{"field": "records.1", "reason": reason}]})


def test_numbers_at_the_documented_limits_get_finite_answers(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    """Whatever the schema accepts is scored: the limits keep the model's float32 arithmetic finite."""
    properties = client.get("/openapi.json").json()["components"]["schemas"]["Record"]["properties"]
    numbers = [feature.name for feature in contract.features if feature.kind == NUMERIC]
    if not numbers:
        pytest.skip("no numeric feature")

    def bound(name: str, key: str) -> float:
        options = properties[name].get("anyOf", [properties[name]])
        return next(option[key] for option in options if key in option)

    extremes = [{**record, **{name: bound(name, key) for name in numbers}} for key in ("maximum", "minimum")]
    alternating = {
        **record,
        **{name: bound(name, ("maximum", "minimum")[i % 2]) for i, name in enumerate(numbers)},
    }
    one_at_a_time = [{**record, name: bound(name, key)} for name in numbers for key in ("maximum", "minimum")]
    records = [record, *extremes, alternating, *one_at_a_time]
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 200, response.text
    for answer in response.json()["predictions"]:  # never null where the schema promises a number
        values = answer["probabilities"].values() if "probabilities" in answer else [answer["prediction"]]
        assert all(isinstance(value, float) and math.isfinite(value) for value in values)


def test_null_is_accepted_wherever_training_had_missing_values(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    nullable = [feature.name for feature in contract.features if feature.missing_share > 0]
    if not nullable:
        pytest.skip("no feature had missing values in training")
    response = client.post("/predict/batch", json={"records": [{**record, name: None} for name in nullable]})
    assert response.status_code == 200, response.text


def test_predict_oversized_chunked_body_returns_413_whatever_its_type(client: TestClient) -> None:
    for content_type in ("application/json", "application/vnd.x+json", "text/plain"):
        chunks = iter([b'{"records": [', b" " * (8 << 20), b"]}"])  # no Content-Length: chunked
        response = client.post("/predict/batch", content=chunks, headers={"content-type": content_type})
        assert response.status_code == 413, content_type
        assert response.json()["detail"][0]["field"] == "body"


@pytest.fixture(scope="module")
def warn_client(trained_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The API under `serving.unknown_category: warn` (unseen labels scored and flagged)."""
    folder = tmp_path_factory.mktemp("warn")
    shutil.copytree(trained_project.models_dir, folder / "models")
    project = load_project(write_config(folder, serving={"unknown_category": "warn"}))
    with TestClient(create_app(project)) as test_client:
        yield test_client


def test_warn_policy_refuses_text_that_cannot_be_encoded(
    warn_client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, CATEGORICAL)
    if name is None:
        pytest.skip("no categorical feature")
    body = json.dumps({**record, name: "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800")
    response = post_raw(warn_client, "/predict", body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == name


def test_predict_oversized_body_returns_413_before_reading_it(client: TestClient) -> None:
    body = b'{"records": [' + b" " * (8 << 20) + b"]}"
    for path in ("/predict", "/predict/batch"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 413, "Content-Length says it is too large: Starlette refuses it unread"


def test_errors_are_capped_and_never_echo_a_long_key(client: TestClient, record: dict[str, Any]) -> None:
    broken = {**record, **{f"extra_{index}": 1 for index in range(50)}, "k" * 10_000: 1}
    response = client.post("/predict", json=broken)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 21 and detail[-1]["reason"].startswith("and ")
    assert max(len(error["field"]) for error in detail) <= 80


@pytest.mark.parametrize("content_type", ["text/json", "text/plain", "application/xml"])
def test_predict_non_json_content_types_return_415(
    client: TestClient, record: dict[str, Any], content_type: str
) -> None:
    assert post_raw(client, "/predict", json.dumps(record), content_type).status_code == 415


def test_skops_forest_scores_a_number_scaled_past_float32(
    trained_project: Project, record: dict[str, Any], contract: Contract
) -> None:
    """StandardScaler turns FLOAT32_MAX into more than float32 holds; the forest must still score it."""
    from {{ cookiecutter.module_name }}.training.train import build_estimator, build_pipeline

    numbers = [feature for feature in contract.features if feature.kind == NUMERIC]
    if not numbers:
        pytest.skip("no numeric feature")
    name = min(numbers, key=lambda feature: feature.maximum - feature.minimum).name  # the smallest scale
    train = pd.read_parquet(trained_project.processed_dir / "train.parquet")
    forest = build_estimator(contract.task, "random_forest", {"n_estimators": 5}, seed=0)
    pipeline = build_pipeline(contract, forest, max_categories=30)
    pipeline.fit(train[contract.feature_names], train[contract.target])
    rows = [{**record, name: FLOAT32_MAX}, {**record, name: -FLOAT32_MAX}]
    assert SkopsPredictor(pipeline, contract).predict(rows).non_finite_rows() == []


def test_predict_wrong_content_type_returns_415(client: TestClient, record: dict[str, Any]) -> None:
    response = post_raw(client, "/predict", json.dumps(record), content_type="text/plain")
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"][0]["reason"]


def test_predict_batch_empty_returns_422(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"records": []})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "records", "reason": "send at least one record"}]}


def test_predict_batch_oversized_returns_422(
    client: TestClient, record: dict[str, Any], trained_project: Project
) -> None:
    limit = trained_project.config.serving.max_batch_rows
    response = client.post("/predict/batch", json={"records": [record] * (limit + 1)})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "records", "reason": f"too many records: at most {limit} per request"}]
    }


def test_predict_batch_bad_row_names_its_index(client: TestClient, record: dict[str, Any]) -> None:
    name = next(iter(record))
    bad = {key: value for key, value in record.items() if key != name}
    response = client.post("/predict/batch", json={"records": [record, bad]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == f"records.1.{name}"


def test_training_range_boundaries_are_served_and_beyond_is_flagged(
    client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, NUMERIC)
    if name is None:
        pytest.skip("no numeric feature")
    feature = contract.features[contract.feature_names.index(name)]
    span = feature.maximum - feature.minimum or 1.0
    at_edges = [{**record, name: feature.minimum}, {**record, name: feature.maximum}]
    beyond = [{**record, name: feature.minimum - 10 * span}, {**record, name: feature.maximum + 10 * span}]
    response = client.post("/predict/batch", json={"records": at_edges + beyond})
    warnings = [answer["warnings"] for answer in response.json()["predictions"]]
    assert response.status_code == 200
    assert warnings[:2] == [[], []], "values on the training range's edges are normal"
    assert all(len(flags) == 1 and flags[0].startswith(f"{name}: ") for flags in warnings[2:])


def test_internal_failure_returns_500_without_a_trace(
    trained_project: Project, record: dict[str, Any]
) -> None:
    async def broken(rows: list[dict[str, Any]]) -> Any:
        raise RuntimeError("secret internals")

    app = create_app(trained_project)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        app.state.serving.score = broken
        response = test_client.post("/predict", json=record)
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text


# --- robustness: whatever the body, a 4xx or a 200, never a 500 ---------------------------------


def fuzzed_bodies(record: dict[str, Any], count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Seeded (path, JSON text) pairs: valid records and records broken in every way we know."""
    import random

    rng = random.Random(seed)
    odd_values = [None, "", "x", "12", 12, 12.5, -1e30, 1e39, True, 0, 1, [], {}, "NaN", 10**400]
    names = list(record)
    bodies = [("/predict", json.dumps(record)), ("/predict/batch", json.dumps({"records": [record] * 3}))]
    for _ in range(count):
        broken = dict(record)
        for _ in range(rng.randint(1, 3)):
            action = rng.random()
            if action < 0.6:
                broken[rng.choice(names)] = rng.choice([*odd_values, record[rng.choice(names)]])
            elif action < 0.8:
                broken.pop(rng.choice(names), None)
            else:
                broken[rng.choice(["extra", names[0].upper(), "records"])] = 1
        text = json.dumps(broken)
        if rng.random() < 0.1:
            text = text.replace("1e+39", "Infinity").replace("12.5", "NaN")
        if rng.random() < 0.3:
            bodies.append(("/predict/batch", '{"records": [' + json.dumps(record) + ", " + text + "]}"))
        else:
            bodies.append(("/predict", text))
    bodies += [("/predict", '{"oops": '), ("/predict", "[]"), ("/predict", "null"), ("/predict", ""),
               ("/predict/batch", '{"records": []}'), ("/predict/batch", json.dumps([record]))]  # fmt: skip
    return bodies


def test_fuzzed_bodies_get_an_answer_or_a_4xx_never_a_500(client: TestClient, record: dict[str, Any]) -> None:
    content_types = ["application/json", "Application/JSON; charset=utf-8", "application/x+json", "text/plain"]  # fmt: skip
    for index, (path, body) in enumerate(fuzzed_bodies(record, 300)):
        response = post_raw(client, path, body, content_types[index % len(content_types)])
        assert response.status_code < 500, (path, body, response.text)
        assert response.status_code == 200 or response.json()["detail"][0]["reason"], (path, body)


def test_a_request_left_unanswered_is_counted_as_499_not_500(trained_project: Project) -> None:
    """A client that goes away mid-body gets no answer; that is not a server error."""
    import asyncio

    from {{ cookiecutter.module_name }}.serving.telemetry import RequestTelemetry

    telemetry = create_app(trained_project).state.serving.telemetry

    async def leaves(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def nothing() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def ignore(message: Any) -> None:
        return None

    scope = {"type": "http", "path": "/predict", "method": "POST", "headers": []}
    asyncio.run(RequestTelemetry(leaves, telemetry)(scope, nothing, ignore))
    count = telemetry.registry.get_sample_value
    assert count("http_requests_total", {"path": "/predict", "status": "499"}) == 1
    assert count("http_requests_total", {"path": "/predict", "status": "500"}) is None


# --- runtimes, the import boundary, and a real server ---------------------------------------


def test_skops_fallback_serves_the_same_answers(
    tmp_path: Path, trained_project: Project, held_out: list[dict[str, Any]]
) -> None:
    shutil.copytree(trained_project.models_dir, tmp_path / "models")
    metadata_path = tmp_path / "models" / "model.json"
    metadata = json.loads(metadata_path.read_text())
    metadata_path.write_text(json.dumps({**metadata, "runtime": "skops", "runtime_reason": "test"}))
    fallback = load_project(write_config(tmp_path))
    with TestClient(create_app(fallback)) as skops_client, TestClient(create_app(trained_project)) as main:
        assert skops_client.get("/model").json()["runtime"] == "skops"
        ours = skops_client.post("/predict/batch", json={"records": held_out}).json()["predictions"]
        theirs = main.post("/predict/batch", json={"records": held_out}).json()["predictions"]
    for a, b in zip(ours, theirs, strict=True):
        if isinstance(a["prediction"], str):
            assert a["prediction"] == b["prediction"]
            assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)
        else:
            assert a["prediction"] == pytest.approx(b["prediction"], rel=1e-5)


def test_changed_model_file_refuses_to_start(tmp_path: Path, trained_project: Project) -> None:
    shutil.copytree(trained_project.models_dir, tmp_path / "models")
    runtime = read_metadata(tmp_path / "models")["runtime"]
    with open(tmp_path / "models" / f"model.{runtime}", "ab") as handle:
        handle.write(b"tampered")
    app = create_app(load_project(write_config(tmp_path)))
    with pytest.raises(Exception, match="does not match the digest"), TestClient(app):
        pass


BOUNDARY_SCRIPT = """
import sys
for name in ("mlflow", "pandera", "evidently", "MODULE.training", "MODULE.evaluation", "MODULE.monitoring"):
    sys.modules[name] = None  # importing any of them (or a module in them) now raises ImportError
from fastapi.testclient import TestClient
from MODULE.serving.app import create_app
from MODULE.project import load_project
app = create_app(load_project(sys.argv[1]))
with TestClient(app) as client:
    example = app.openapi()["components"]["schemas"]["Record"]["examples"][0]
    response = client.post("/predict", json=example)
    runtime = client.get("/model").json()["runtime"]
assert response.status_code == 200, response.text
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"pandas", "sklearn"})
assert runtime != "onnx" or not heavy, f"the ONNX path imported {heavy}"
stages = sorted(name for name in sys.modules if name.startswith("MODULE.data."))
assert stages == ["MODULE.data.dates", "MODULE.data.derived"], f"the API imported {stages}; of the data stage it may import only data/dates.py and data/derived.py"
print("ok", runtime)
"""


def test_api_runs_without_training_modules(trained_project: Project) -> None:
    script = BOUNDARY_SCRIPT.replace("MODULE", "{{ cookiecutter.module_name }}")
    result = subprocess.run(
        [sys.executable, "-c", script, str(trained_project.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok")


def test_ready_is_503_until_the_model_is_loaded(trained_project: Project) -> None:
    app = create_app(trained_project)
    response = TestClient(app).get("/ready")  # no `with`: the lifespan (model loading) has not run
    assert response.status_code == 503
    assert response.json() == {"ready": False}


def test_warn_policy_scores_an_unknown_label_and_flags_it(
    warn_client: TestClient, record: dict[str, Any], contract: Contract
) -> None:
    name = first(contract, CATEGORICAL)
    if name is None:
        pytest.skip("no categorical feature")
    response = warn_client.post("/predict", json={**record, name: "never-seen-label"})
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        f"{name}: 'never-seen-label' was not seen in training; scored as an unknown label"
    ]


def test_a_label_beyond_the_listed_ones_is_not_called_unseen() -> None:
    from {{ cookiecutter.module_name }}.serving.schemas import FeatureCheck

    listed = frozenset(f"city {i}" for i in range(MAX_LISTED_CATEGORIES))
    complete = FeatureCheck("city", known=frozenset({"Oslo"}))
    top_only = FeatureCheck("city", known=listed, all_known=False)
    assert complete.warn("Oslo") is None
    assert "was not seen in training" in (complete.warn("Bergen") or "")
    warning = top_only.warn("Great Falls") or ""
    assert "not one of the 200 most frequent labels" in warning
    assert "not seen" not in warning
