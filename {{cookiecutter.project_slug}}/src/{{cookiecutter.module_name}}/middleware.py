"""The API's two ASGI layers: request metrics, and a fast path for valid prediction requests.

Why a fast path: with ONNX Runtime, scoring a row takes tens of microseconds, and FastAPI's
per-request machinery — routing, dependency solving, parsing the JSON into dicts, the request
objects and exception layers — cost about three times as much CPU as everything the prediction
route itself does (measured with py-spy under `benchmarks/serve_bench.py`). So `PredictFastPath`
answers the common case below FastAPI: a POST to /predict or /predict/batch with a JSON body that
validates against the same pydantic model the route declares. It produces the very bytes the
route would (ServingState.predict builds both), and everything else — another path, another
content type, a body that does not validate, a failure while scoring — goes to the FastAPI app
unchanged, with the body replayed. Errors, /docs and the OpenAPI document therefore stay
FastAPI's, and the tests check that both paths answer alike (tests/test_api.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no import cycle at run time: api.py imports this module
    from .api import ServingMetrics, ServingState

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

STATUS_TEXT = {code: str(code) for code in (200, 404, 405, 415, 422, 500, 503)}
# The JSON content types the fast path takes; FastAPI's route handles any other (e.g. +json types).
JSON_TYPES = {b"application/json", b"application/json; charset=utf-8", b"application/json;charset=utf-8"}
JSON_HEADERS = [(b"content-type", b"application/json")]


class RequestMetrics:
    """Count requests and time them per route (a plain ASGI middleware: cheap on the hot path)."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = {"/health", "/ready", "/model", "/predict", "/predict/batch", "/metrics", "/docs"}

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Server-Timing: the time spent in the app, so clients can tell it from the network.
                elapsed = f"app;dur={(time.perf_counter() - started) * 1000:.2f}".encode()
                message["headers"] = [*message.get("headers", ()), (b"server-timing", elapsed)]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            path = scope["path"] if scope["path"] in self.paths else "other"
            self.metrics.requests.inc(path=path, status=STATUS_TEXT.get(status) or str(status))
            self.metrics.latency.observe(time.perf_counter() - started, path=path)


class PredictFastPath:
    """Answer valid POST /predict and /predict/batch requests without FastAPI's per-request work."""

    def __init__(self, app: ASGIApp, state: ServingState) -> None:
        self.app = app
        self.state = state
        self.routes = {"/predict": False, "/predict/batch": True}  # path → is it the batch route

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        batch = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if batch is None or scope["method"] != "POST" or not _json_body(scope) or self.state.batcher is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body: nobody to answer
            return
        models = self.state.models
        try:
            if batch:
                records = models.batch_request.model_validate_json(body).records  # type: ignore[attr-defined]
            else:
                records = [models.record.model_validate_json(body)]
            answer = await self.state.predict(records, batch=batch, started=started)
        except Exception:
            # Not valid, or the model could not answer: FastAPI's route answers (422, 415 or 500),
            # so errors keep one format and a failure is logged once, there.
            await self.app(scope, _replay(body, receive), send)
            return
        headers = [*JSON_HEADERS, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def _json_body(scope: Message) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.lower() in JSON_TYPES
    return False


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the already-read body over again, then the client's messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
