"""The prediction API: FastAPI routes over the served model, with request models from the data contract."""

# No `from __future__ import annotations`: the routes' request models are built at run time.

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from .. import model_files
from ..project import Project, load_project
from .batching import MicroBatcher
from .feedback import FeedbackAnswer, FeedbackStore, build_label_models
from .http_errors import ERRORS, add_error_handlers
from .prediction_log import PredictionLog
from .runtime import Predictor, Row, Scores, load_contract, load_predictor
from .schemas import ApiModels, build_models
from .telemetry import RequestTelemetry, Telemetry

logger = logging.getLogger(__name__)
MODEL_KEYS = ("name", "version", "created", "task", "target", "classes", "family", "estimator", "runtime",
              "runtime_reason", "onnx_parity", "data_digest", "cv_metrics", "held_out_metrics", "contract")  # fmt: skip
NO_CARD = {404: {"description": "No model card in models/ yet."}}
NOT_FINITE = "values too far outside the training range: the model's answer is not a finite number"


class ServingState:
    """What the routes share: the model once loaded, its metadata, the telemetry and the log."""

    def __init__(self, metadata: dict[str, Any], models: ApiModels, telemetry: Telemetry) -> None:
        self.metadata = metadata
        self.models = models
        self.telemetry = telemetry
        self.version = str(metadata["version"])
        self.predictor: Predictor | None = None
        self.batcher: MicroBatcher | None = None  # the skops runtime's
        self.log = PredictionLog(None)  # replaced by the configured log when the model is loaded
        self.feedback: FeedbackStore | None = None  # None when the log is off: no prediction to label
        self.watcher: asyncio.Task[None] | None = None

    async def predict(
        self, records: list[BaseModel], fields: list[str], response: Response
    ) -> list[dict[str, Any]]:
        """Score validated records; return their answers, and name their logged rows in X-Request-ID."""
        assert self.predictor is not None, "the lifespan loads the model"
        started = time.perf_counter()
        rows, warnings = [], []
        for record in records:
            row, flags = self.models.to_row(record)
            rows.append(row)
            warnings.append(flags)
        scores = await self.score(rows)
        if bad := scores.non_finite_rows():  # NaN and infinity are not JSON numbers
            raise HTTPException(422, [{"field": fields[index], "reason": NOT_FINITE} for index in bad])
        answers: list[dict[str, Any]] = [{"prediction": value, "warnings": flags}
                                         for value, flags in zip(scores.predictions, warnings, strict=True)]  # fmt: skip
        if scores.probabilities is not None:
            classes = self.predictor.classes or []
            for answer, chances in zip(answers, scores.probabilities.tolist(), strict=True):
                answer["probabilities"] = dict(zip(classes, chances, strict=True))
        self.telemetry.count_predictions(scores.predictions, warnings)
        response.headers["X-Request-ID"] = self.log.add(rows, answers, started)
        return answers

    def score_rows(self, rows: list[Row]) -> Scores:
        assert self.predictor is not None, "the lifespan loads the model"
        self.telemetry.batch_rows.observe(len(rows))
        return self.predictor.predict(rows)

    async def score(self, rows: list[Row]) -> Scores:
        """Score on the event loop with ONNX Runtime (microseconds); share a call in a thread with skops."""
        if self.batcher is None:
            return self.score_rows(rows)
        return await self.batcher.submit(rows)

    async def start(self, project: Project) -> None:
        """Load the model, then start the prediction log and the watch for a new champion."""
        self.log = PredictionLog.for_project(project, self.version, "", self.telemetry.log)
        await self.serve(project, self.metadata)
        self.log.start()
        if self.log.table is not None:
            self.feedback = FeedbackStore(project.prediction_log_url)
        self.watcher = asyncio.create_task(self.watch_champion(project))

    async def serve(self, project: Project, metadata: dict[str, Any]) -> None:
        """Load the model model.json describes, then swap it in: a request sees the old model or the new."""
        predictor = await asyncio.to_thread(load_predictor, project.models_dir, metadata)
        serving = project.config.serving
        if predictor.runtime != "onnx" and self.batcher is None:
            self.batcher = MicroBatcher(self.score_rows, max_rows=serving.max_batch_rows,
                                        wait_s=serving.batch_wait_ms / 1000)  # fmt: skip
            await self.batcher.start()
        if self.predictor is not None:
            self.telemetry.model.remove(self.version, self.predictor.runtime)
        self.metadata, self.version, self.predictor = metadata, str(metadata["version"]), predictor
        self.log.model_version, self.log.runtime = self.version, predictor.runtime
        self.telemetry.model.labels(self.version, predictor.runtime).set(1)
        logger.info("serving model %s on %s (%s)", self.version, predictor.runtime,
                    metadata.get("runtime_reason"))  # fmt: skip

    async def watch_champion(self, project: Project) -> None:
        """Every monitoring.reload_seconds, serve a new champion in models/ if it has the same inputs
        and classes (the request models are built once, at start)."""
        while interval := project.config.monitoring.reload_seconds:
            await asyncio.sleep(interval)
            try:
                metadata = model_files.read_metadata(project.models_dir)
                if str(metadata["version"]) == self.version:
                    continue
                if not load_contract(metadata).same_problem(load_contract(self.metadata)):
                    raise ValueError("it has other inputs or classes: restart the API to serve it")
                await self.serve(project, metadata)
            except Exception as exc:  # still being copied, a bad file, another problem: keep serving
                logger.warning("models/model.json not served (%s); still serving %s", exc, self.version)

    async def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if self.batcher is not None:
            await self.batcher.stop()
        self.log.close()
        if self.feedback is not None:
            self.feedback.dispose()


def create_app(project: Project | None = None) -> FastAPI:
    """Build the API for the project's served model (configs/config.yaml found from here by default)."""
    project = project or load_project()
    metadata = model_files.read_metadata(project.models_dir)
    contract = load_contract(metadata)
    serving = project.config.serving
    models = build_models(contract, serving)
    telemetry = Telemetry(contract.task, contract.target_range,
                          log_predictions=project.config.monitoring.log_predictions)  # fmt: skip
    state = ServingState(metadata, models, telemetry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.start(project)
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title=f"{metadata['name']} prediction API",
        version=state.version,
        description=f"Predicts `{metadata['target']}` ({metadata['task']}). Request fields come from the data contract.",
        lifespan=lifespan,
    )
    app.state.serving = state
    app.add_middleware(RequestTelemetry, telemetry=telemetry)
    add_error_handlers(app)
    add_routes(app, state, build_label_models(contract, serving.max_batch_rows)[1], project)
    return app


def add_routes(app: FastAPI, state: ServingState, labels: Any, project: Project) -> None:
    """The routes, the scoring ones first: a request is matched against them in this order."""
    models = state.models
    limit = models.max_body_bytes  # larger bodies are refused (413) before they are read
    demo_page = resources.files(__package__).joinpath("demo.html").read_text(encoding="utf-8")

    @app.post(
        "/predict", response_model=models.response, tags=["predict"], responses=ERRORS, max_body_size=limit
    )
    async def predict(record: models.record, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
        """Score one record."""
        (answer,) = await state.predict([record], ["body"], response)
        return {**answer, "model_version": state.version}

    @app.post("/predict/batch", response_model=models.batch_response, tags=["predict"], responses=ERRORS,
              max_body_size=limit)  # fmt: skip
    async def predict_batch(request: models.batch_request, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
        """Score a list of records (at most serving.max_batch_rows) in one call."""
        fields = [f"records.{index}" for index in range(len(request.records))]
        answers = await state.predict(request.records, fields, response)
        return {"predictions": answers, "model_version": state.version}

    @app.post("/feedback", response_model=FeedbackAnswer, tags=["feedback"], responses=ERRORS,
              max_body_size=limit)  # fmt: skip
    def post_feedback(body: labels) -> FeedbackAnswer:  # type: ignore[valid-type]
        """Store the true target of logged predictions: one label or a list (see serving/feedback.py)."""
        if state.feedback is None:
            raise HTTPException(
                409, "the prediction log is off (monitoring.log_predictions): nothing to label"
            )
        try:
            return state.feedback.answer(body if isinstance(body, list) else [body])
        except SQLAlchemyError as exc:  # the store is down: the client may retry
            raise HTTPException(
                503, f"the prediction log's database did not answer: {type(exc).__name__}"
            ) from None

    @app.get("/", response_class=HTMLResponse, tags=["demo"])
    def demo() -> HTMLResponse:
        """Serve the demo page: a form built from /openapi.json that sends its record to /predict."""
        return HTMLResponse(demo_page)

    @app.get("/health", tags=["status"])
    def health() -> dict[str, str]:
        """Say that the process is up."""
        return {"status": "ok"}

    @app.get("/ready", tags=["status"], responses={503: {"description": "The model is not loaded yet."}})
    def ready() -> JSONResponse:
        """Say whether the model is loaded and predictions can be served."""
        if state.predictor is None:
            return JSONResponse({"ready": False}, status_code=503)
        return JSONResponse(
            {"ready": True, "model_version": state.version, "runtime": state.predictor.runtime}
        )

    @app.get("/model", tags=["status"])
    def model() -> dict[str, Any]:
        """Describe the served model: runtime and why, its cross-validated and held-out metrics, its contract."""
        info = {key: state.metadata.get(key) for key in MODEL_KEYS}
        info["runtime"] = state.predictor.runtime if state.predictor else info["runtime"] or "skops"
        return info

    @app.get("/model/card", tags=["status"], response_class=PlainTextResponse, responses=NO_CARD)
    def model_card() -> PlainTextResponse:
        """Return the served model's card, in Markdown: models/model_card.md, which `promote` copies."""
        if not (card := project.models_dir / "model_card.md").is_file():
            raise HTTPException(404, f"no model card at {card}: run `make evaluate`, then `make promote`")
        return PlainTextResponse(card.read_text(encoding="utf-8"), media_type="text/markdown")

    @app.get("/metrics", tags=["status"], response_class=Response)
    def metrics() -> Response:
        """Return the telemetry (requests, latencies, predictions, the log) in the Prometheus text format."""
        return Response(state.telemetry.render(), media_type=CONTENT_TYPE_LATEST)
