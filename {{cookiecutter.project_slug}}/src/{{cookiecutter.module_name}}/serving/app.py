"""The prediction API: FastAPI over the exported model, with request models from the data contract.

Run it with `{{ cookiecutter.module_name }} serve` (or `make serve`); open /docs for the schema. Nothing happens at import:
create_app() reads models/model.json to build the request models, and the lifespan loads the
model file once, after checking its digest. This module imports no training code, MLflow, pandera
or evidently; on the ONNX runtime it imports neither scikit-learn nor pandas either.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, and the request
# models are built at run time, so they must be real objects rather than strings.

import collections
import gc
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .. import model_files
from ..config import Project, load_project
from . import telemetry
from .answers import AnswerFormat, Answers
from .batching import InlineBatcher, MicroBatcher
from .middleware import PredictFastPath, RequestMetrics
from .prediction_log import PredictionLog
from .runtime import Predictor, Scores, load_contract, load_predictor
from .schemas import ApiModels, build_models

logger = logging.getLogger(__name__)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
ERRORS = {
    413: {"description": "The body is larger than max_batch_rows records of this contract can be."},
    415: {"description": "The body is not JSON (Content-Type must be application/json)."},
    422: {
        "description": "The body is not valid JSON; a field is missing, extra, of the wrong type, not finite "
        "or not allowed; or the values are so extreme that the model's answer is not a finite number."
    },
    500: {"description": "The model failed on valid input; the server log has the details."},
}


class ServingState:
    """What the routes share: the model once loaded, its metadata and the counters."""

    def __init__(self, metadata: dict[str, Any], models: ApiModels) -> None:
        self.metadata = metadata
        self.models = models
        self.version = str(metadata["version"])
        self.predictor: Predictor | None = None
        self.batcher: InlineBatcher | MicroBatcher | None = None
        self.format = AnswerFormat(metadata.get("classes"), self.version)  # the predictor's, once loaded
        self.metrics = ServingMetrics(metadata)
        self.log = PredictionLog(None)  # replaced by the configured log when the model is loaded

    async def predict(
        self, records: Sequence[BaseModel], *, batch: bool, started: float, body: bytes | None = None
    ) -> bytes:
        """Score validated records; return the response body (POST /predict's, or the batch's).

        Args:
            started: time.perf_counter() when the request arrived (the logged latency starts there).
            body: the request body the records came from, for the prediction log (None: rebuilt).
        """
        assert self.batcher is not None, "the model is loaded in the app's lifespan"
        if batch:
            rows, warnings = zip(*(self.models.to_row(record) for record in records), strict=True)
        else:
            row, flags = self.models.to_row(records[0])
            rows, warnings = (row,), (flags,)
        scores = await self.batcher.submit(list(rows))
        refuse_non_finite(scores, batch=batch)
        answers = self.answer(scores, warnings)
        if self.log.enabled:
            if body is None:
                dumped = [record.model_dump_json(by_alias=True) for record in records]
                body = ('{"records":[' + ",".join(dumped) + "]}" if batch else dumped[0]).encode()
            self.log.add_raw(body, answers.predictions, answers.probabilities, batch, started)
        return self.format.batch_response(answers) if batch else self.format.response(answers)

    def answer(self, scores: Scores, warnings: Sequence[list[str]]) -> Answers:
        """The rows' answers as JSON text, counted in /metrics."""
        for flags in warnings:
            for warning in flags:
                self.metrics.warnings.inc(feature=warning.split(":", 1)[0])
        if scores.probabilities is None:
            for value in scores.predictions:
                self.metrics.values.observe(value)
        else:
            for label, count in collections.Counter(scores.predictions).items():
                self.metrics.predictions.inc(count, **{"class": label})
        return self.format.render(scores, warnings)


class ServingMetrics:
    def __init__(self, metadata: dict[str, Any]) -> None:
        self.requests = telemetry.Counter("http_requests_total", "HTTP requests by path and status code.")
        self.latency = telemetry.Histogram("http_request_duration_seconds", "Request latency by path.")
        self.batch_rows = telemetry.Histogram(
            "prediction_batch_rows", "Rows per model call.", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
        )
        self.predictions = telemetry.Counter("predictions_total", "Predictions served, by class.")
        low, high = (metadata.get("contract") or {}).get("target_range") or (0.0, 1.0)
        step = (high - low) / 10 or 1.0
        self.values = telemetry.Histogram(
            "prediction_value", "Regression predictions.", [low + step * i for i in range(11)]
        )
        self.warnings = telemetry.Counter(
            "prediction_warnings_total", "Values scored but flagged, by feature."
        )
        self.model = telemetry.Counter("model_info", "The model being served (value 1).", kind="gauge")

    def all(self) -> list[Any]:
        task_metric = self.values if self.values.counts else self.predictions
        return [self.model, self.requests, self.latency, self.batch_rows, task_metric, self.warnings]


def create_app(project: Project | None = None, *, fast_path: bool = True) -> FastAPI:
    """Build the API for the project's exported model (configs/config.yaml found from here by default).

    Args:
        fast_path: answer valid prediction requests below FastAPI's routing (middleware.py); the
            answers are the same either way, only cheaper. The body size limit (413) holds either way.
    """
    project = project or load_project()
    serving = project.config.serving
    metadata = model_files.read_metadata(project.models_dir)
    contract = load_contract(metadata)
    models = build_models(
        contract,
        max_batch_rows=serving.max_batch_rows,
        unknown_category=serving.unknown_category,
    )
    state = ServingState(metadata, models)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predictor = load_predictor(project.models_dir, metadata)
        batcher = make_batcher(predictor, project, on_batch=state.metrics.batch_rows.observe)
        await batcher.start()
        state.log = PredictionLog.for_project(project, state.version, predictor.runtime)
        state.log.start()
        state.predictor, state.batcher = predictor, batcher
        state.format = AnswerFormat(predictor.classes, state.version)
        state.metrics.model.set(1, version=state.version, runtime=predictor.runtime)
        logger.info(
            "serving model %s on %s (%s)", state.version, predictor.runtime, metadata.get("runtime_reason")
        )
        # Modules, the model and the request models live until shutdown: take them out of the
        # garbage collector's reach so each collection walks only per-request objects.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await batcher.stop()
            state.log.close()

    app = FastAPI(
        title=f"{metadata['name']} prediction API",
        version=state.version,
        description=f"Predicts `{metadata['target']}` ({metadata['task']}). Request fields come from the data contract.",
        lifespan=lifespan,
    )
    app.state.serving = state
    app.add_middleware(PredictFastPath, state=state, answer=fast_path)
    app.add_middleware(RequestMetrics, metrics=state.metrics)  # added last: the outermost, it sees all
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, undecodable_body)
    app.add_exception_handler(NonFiniteAnswer, non_finite_answer)
    app.add_exception_handler(Exception, internal_error)
    add_routes(app, state, project)
    return app


def make_batcher(
    predictor: Predictor, project: Project, on_batch: Any = None
) -> InlineBatcher | MicroBatcher:
    """ONNX Runtime scores on the event loop (a thread hop costs more); the skops Pipeline in a thread."""
    serving = project.config.serving
    if predictor.runtime == "onnx":
        return InlineBatcher(predictor.predict, max_rows=serving.max_batch_rows, on_batch=on_batch)
    return MicroBatcher(
        predictor.predict,
        max_rows=serving.max_batch_rows,
        wait_s=serving.batch_wait_ms / 1000,
        on_batch=on_batch,
    )


def add_routes(app: FastAPI, state: ServingState, project: Project) -> None:
    models = state.models
    held_out_path = project.reports_dir / "metrics.json"

    @app.get("/health", tags=["status"])
    def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", tags=["status"], responses={503: {"description": "The model is not loaded yet."}})
    def ready() -> JSONResponse:
        """The model is loaded and predictions can be served."""
        if state.batcher is None or state.predictor is None:
            return JSONResponse({"ready": False}, status_code=503)
        return JSONResponse(
            {"ready": True, "model_version": state.version, "runtime": state.predictor.runtime}
        )

    @app.get("/model", tags=["status"])
    def model() -> dict[str, Any]:
        """Which model is served, on which runtime and why, its metrics and its data contract."""
        keys = ("name", "version", "created", "task", "target", "classes", "family", "estimator",
                "runtime", "runtime_reason", "onnx_parity", "data_digest", "cv_metrics", "contract")  # fmt: skip
        info = {key: state.metadata.get(key) for key in keys}
        info["runtime"] = state.predictor.runtime if state.predictor else info["runtime"] or "skops"
        info["held_out_metrics"] = json.loads(held_out_path.read_text()) if held_out_path.is_file() else None
        return info

    @app.post("/predict", response_model=models.response, tags=["predict"], responses=ERRORS)
    async def predict(record: models.record) -> Response:  # type: ignore[valid-type]
        """Score one record (concurrent calls are micro-batched into one model call)."""
        body = await state.predict([record], batch=False, started=time.perf_counter())
        return Response(body, media_type="application/json")

    @app.post("/predict/batch", response_model=models.batch_response, tags=["predict"], responses=ERRORS)
    async def predict_batch(request: models.batch_request) -> Response:  # type: ignore[valid-type]
        """Score a list of records (at most serving.max_batch_rows) in one call."""
        body = await state.predict(request.records, batch=True, started=time.perf_counter())
        return Response(body, media_type="application/json")

    @app.get("/metrics", tags=["status"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Request counts and latencies, batch sizes and predictions, in the Prometheus text format."""
        families = [*state.metrics.all(), *state.log.metrics()]
        return PlainTextResponse(telemetry.render(families), media_type=PROMETHEUS_TEXT)


class NonFiniteAnswer(Exception):
    """The model's answer is NaN or infinite for these rows (args: their fields): float32 overflowed."""


def refuse_non_finite(scores: Scores, *, batch: bool) -> None:
    if rows := scores.non_finite_rows():
        raise NonFiniteAnswer(*[f"records.{index}" if batch else "body" for index in rows])


MAX_ERRORS = 20  # error entries per response; more are summed up in one last entry
MAX_FIELD_CHARS = 80  # a field name is cut here: an unknown key can be any length


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field and why (415 when the body is not JSON); never echo the input."""
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "")
    if not is_json_type(content_type):
        reason = f"send a JSON body with Content-Type: application/json (got {content_type[:MAX_FIELD_CHARS] or 'no Content-Type'})"
        return JSONResponse({"detail": [{"field": "body", "reason": reason}]}, status_code=415)
    errors = exc.errors()
    detail = [describe_error(error) for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        detail.append({"field": "body", "reason": f"and {len(errors) - MAX_ERRORS} more errors"})
    return JSONResponse({"detail": detail}, status_code=422)


def is_json_type(content_type: str) -> bool:
    """FastAPI's rule: application/json or application/*+json, parameters aside."""
    main, _, sub = content_type.split(";", 1)[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def describe_error(error: dict[str, Any]) -> dict[str, str]:
    """Turn one pydantic error into {field, reason} (the field as a dotted path in the body)."""
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "json_invalid":
        reason = (
            f"malformed JSON ({context.get('error', 'cannot parse')}) at character {loc[0] if loc else '?'}"
        )
        return {"field": "body", "reason": reason}
    reasons = {
        "missing": "required field is missing" if loc else "a JSON body is required",
        "extra_forbidden": "not a model input (identifier and sensitive columns are never inputs)",
        "finite_number": "must be a finite number (NaN and infinity are not allowed)",
        "too_short": "send at least one record",
    }
    reason = reasons.get(kind, error.get("msg", "invalid value"))
    feature = bool(loc) and not loc[-1].isdigit() and loc != ["records"]  # not a record, not the list
    if error.get("input", "") is None and (kind.endswith("_type") or kind == "literal_error") and feature:
        reason = "null is not allowed here: training had no missing values in this feature — send a value"
    if kind == "too_long":
        reason = f"too many records: at most {context.get('max_length')} per request"
    elif kind in ("less_than_equal", "greater_than_equal"):
        bound = abs(float(context.get("le", context.get("ge", 0.0))))
        reason = (
            f"must be between {-bound:g} and {bound:g} (beyond that the model's 32-bit arithmetic overflows)"
        )
    field = ".".join(loc) or "body"
    if len(field) > MAX_FIELD_CHARS:
        field = field[: MAX_FIELD_CHARS - 1] + "…"
    return {"field": field, "reason": reason}


async def non_finite_answer(request: Request, exc: Exception) -> JSONResponse:
    """422 naming the rows whose answer overflowed: NaN and infinity are not JSON numbers."""
    reason = "values too far outside the training range: the model's answer is not a finite number"
    detail = [{"field": field, "reason": reason} for field in exc.args]
    return JSONResponse({"detail": detail}, status_code=422)


async def undecodable_body(request: Request, exc: Exception) -> Response:
    """FastAPI answers 400 to a body it cannot decode (not UTF-8, nested too deeply, an integer of
    over 4300 digits): make it the 422 of any other malformed JSON. Other HTTP errors are unchanged."""
    assert isinstance(exc, HTTPException)
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return await http_exception_handler(request, exc)
    if isinstance(cause, ClientDisconnect):  # nobody is left to read it: 499, as nginx counts it
        return Response(status_code=499)
    if isinstance(cause, UnicodeDecodeError):
        reason = "malformed JSON (not UTF-8 text)"
    elif isinstance(cause, RecursionError):
        reason = "malformed JSON (nested too deeply)"
    else:
        reason = "malformed JSON (cannot be decoded)"
    return JSONResponse({"detail": [{"field": "body", "reason": reason}]}, status_code=422)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """500 without a stack trace in the body; the traceback goes to the server log."""
    logger.exception("prediction failed on %s %s", request.method, request.url.path, exc_info=exc)
    detail = "internal error while serving this request — the server log has the details"
    return JSONResponse({"detail": detail}, status_code=500)
