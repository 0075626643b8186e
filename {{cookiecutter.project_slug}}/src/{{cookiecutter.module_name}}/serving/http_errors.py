"""How the API answers what it cannot score: 4xx naming the field and the reason, never a 500 for bad input."""

from __future__ import annotations

import logging
from difflib import get_close_matches
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ..errors import UserError

logger = logging.getLogger(__name__)
MAX_ERRORS = 20  # error entries per response; more are summed up in one last entry
MAX_FIELD_CHARS = 80  # a field name is cut here: an unknown key can be any length
ERRORS = {
    413: {"description": "The body is larger than max_batch_rows records of this contract can be."},
    415: {"description": "The body is not JSON (Content-Type must be application/json)."},
    422: {
        "description": "The body is not valid JSON; a field is missing, extra, of the wrong type, not finite "
        "or not allowed; or the values are so extreme that the model's answer is not a finite number."
    },
    500: {"description": "The model failed on valid input; the server log has the details."},
}


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


def body_error(status_code: int, reason: str, field: str = "body") -> JSONResponse:
    return JSONResponse({"detail": [{"field": field, "reason": reason}]}, status_code=status_code)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 naming each bad field and why (415 when the body is not JSON); never echo the input."""
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "")
    if not is_json_type(content_type):
        got = content_type[:MAX_FIELD_CHARS] or "no Content-Type"
        return body_error(415, f"send a JSON body with Content-Type: application/json (got {got})")
    errors, known = exc.errors(), record_fields(request)
    detail = [describe_error(error, known) for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        detail.append({"field": "body", "reason": f"and {len(errors) - MAX_ERRORS} more errors"})
    return JSONResponse({"detail": detail}, status_code=422)


def record_fields(request: Request) -> list[str]:
    """The record's field names on the routes that take records, to suggest the closest to a misspelling."""
    state = getattr(request.app.state, "serving", None)
    if state is None or not request.url.path.startswith("/predict"):
        return []
    return [field.alias or name for name, field in state.models.record.model_fields.items()]


def is_json_type(content_type: str) -> bool:
    """Return whether FastAPI reads this as JSON: application/json or application/*+json."""
    main, _, sub = content_type.split(";", 1)[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def describe_error(error: dict[str, Any], known: list[str] | None = None) -> dict[str, str]:
    """Turn one pydantic error into {field, reason}, the field as a dotted path in the body."""
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "json_invalid":
        where = f"character {loc[0]}" if loc else "?"
        return {
            "field": "body",
            "reason": f"malformed JSON ({context.get('error', 'cannot parse')}) at {where}",
        }
    reasons = {
        "missing": "required field is missing" if loc else "a JSON body is required",
        "extra_forbidden": "not a column of the training data (names are the cleaned, snake-cased ones)",
        "finite_number": "must be a finite number (NaN and infinity are not allowed)",
        "too_short": "send at least one record",
    }
    reason = reasons.get(kind, error.get("msg", "invalid value"))
    if kind == "extra_forbidden" and loc and (close := get_close_matches(loc[-1], known or [], n=1)):
        reason += f": did you mean '{close[0]}'?"
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


MALFORMED = {UnicodeDecodeError: "not UTF-8 text", RecursionError: "nested too deeply"}


async def http_error(request: Request, exc: Exception) -> Response:
    """Give 413 the API's error shape, and make FastAPI's 400 for an undecodable body a 422."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 413:  # a body without Content-Length passed the route's max_body_size
        return body_error(413, "the body is too large: send fewer records per request")
    cause = exc.__cause__
    if exc.status_code != 400 or cause is None:
        return await http_exception_handler(request, exc)
    if isinstance(cause, ClientDisconnect):  # nobody is left to read it: 499, as nginx counts it
        return Response(status_code=499)
    # Otherwise e.g. an integer of over 4300 digits.
    return body_error(422, f"malformed JSON ({MALFORMED.get(type(cause), 'cannot be decoded')})")


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer 500 without a stack trace in the body; the traceback goes to the server log."""
    logger.exception("prediction failed on %s %s", request.method, request.url.path, exc_info=exc)
    detail = "internal error while serving this request — the server log has the details"
    if isinstance(exc, UserError):  # data/derived.py failed on these values: its message names it
        detail = str(exc)
    return JSONResponse({"detail": detail}, status_code=500)
