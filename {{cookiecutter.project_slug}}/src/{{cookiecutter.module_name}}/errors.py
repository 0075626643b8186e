"""Errors a user can fix: the CLI prints them as one line, never a traceback."""

from __future__ import annotations

import difflib

from pydantic import BaseModel, ValidationError


class UserError(Exception):
    """A mistake in the config or the data that the user can fix; the message says how."""


class ConfigError(UserError):
    """configs/config.yaml is missing, malformed or holds a value that is not allowed."""


class DataError(UserError):
    """The data cannot be loaded or does not fit the configuration."""


def describe_validation_error(exc: ValidationError, root: type[BaseModel]) -> str:
    """Turn the first pydantic error into 'key path: problem — fix'."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        section = _section_at(root, loc[:-1])
        allowed = sorted(section.model_fields) if section else []
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key '{key}' — {hint}"
    if error["type"] == "missing":
        return f"missing key '{key}' — add it (see the comments in the default config.yaml)"
    if error["type"] == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{key} = {error['input']!r} is not allowed — use one of: {allowed}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if loc and not isinstance(value, dict):
        return f"{key} = {value!r}: {message}"
    return message


def _section_at(model: type[BaseModel], loc: list[str]) -> type[BaseModel] | None:
    """Return the config section (a nested model) at the key path, or None if it is not one."""
    for part in loc:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model
