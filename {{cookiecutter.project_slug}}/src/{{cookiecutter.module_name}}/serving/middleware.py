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

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no import cycle at run time: api.py imports this module
    from .app import ServingMetrics, ServingState

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

STATUS_TEXT = {code: str(code) for code in (200, 404, 405, 413, 415, 422, 500, 503)}
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
        started, status = time.perf_counter(), None

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
        except Exception:
            status = status or 500  # FastAPI's outermost layer answers it with a 500
            raise
        finally:
            path = scope["path"] if scope["path"] in self.paths else "other"
            # No response at all: the client went away first (499, as nginx counts it).
            label = (STATUS_TEXT.get(status) or str(status)) if status else "499"
            self.metrics.requests.inc(path=path, status=label)
            self.metrics.latency.observe(time.perf_counter() - started, path=path)


class PredictFastPath:
    """Answer valid POST /predict and /predict/batch requests without FastAPI's per-request work.

    Also refuses (413) a body over the contract's size limit (ApiModels.max_body_bytes) on both
    routes, whether or not `answer` is on: before reading it when Content-Length says so, else
    as soon as a chunked body passes the limit.
    """

    def __init__(self, app: ASGIApp, state: ServingState, answer: bool = True) -> None:
        self.app = app
        self.state = state
        self.answer = answer  # False: only the size limit; FastAPI's route answers everything
        self.routes = {"/predict": False, "/predict/batch": True}  # path → is it the batch route

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        batch = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if batch is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limit = self.state.models.max_body_bytes
        length = _content_length(scope)
        if length is not None and length > limit:
            await _too_large(send, limit)
            return
        fast = self.answer and _json_body(scope) and self.state.batcher is not None
        if not fast and length is not None:  # FastAPI reads it: Content-Length says it fits
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, limit)  # a chunked body is measured as it comes
        if body is None:  # the client went away before sending its body: nobody to answer
            return
        if len(body) > limit:
            await _too_large(send, limit)
            return
        if not fast:
            await self.app(scope, _replay(body, receive), send)
            return
        started = time.perf_counter()  # as on FastAPI's route: the logged latency excludes the upload
        models = self.state.models
        try:
            if batch:
                records = models.batch_request.model_validate_json(body).records  # type: ignore[attr-defined]
            else:
                records = [models.record.model_validate_json(body)]
            answer = await self.state.predict(records, batch=batch, started=started, body=body)
        except Exception:
            # Not valid, or the model could not answer: FastAPI's route answers (422, 415 or 500),
            # so errors keep one format and a failure is logged once, there.
            await self.app(scope, _replay(body, receive), send)
            return
        await _send_json(send, 200, answer)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    reason = f"the body is over {limit} bytes: send fewer records per request"
    await _send_json(send, 413, json.dumps({"detail": [{"field": "body", "reason": reason}]}).encode())


def _content_length(scope: Message) -> int | None:
    """The declared body size; None when there is none (a chunked body)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0  # a malformed one is the server's to refuse
    return None


def _json_body(scope: Message) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.lower() in JSON_TYPES
    return False


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body (None if the client left first); reading stops once it is over limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if not message.get("more_body", False) or size > limit:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the already-read body over again, then the client's messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
