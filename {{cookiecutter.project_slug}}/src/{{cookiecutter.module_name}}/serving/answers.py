"""The API's answers as JSON text: each row rendered once, for the response and the prediction log.

Scoring a row with ONNX Runtime takes tens of microseconds, so how the answer is written out
matters: returning dicts for FastAPI to check against the response model and serialize cost
more than the model, and the prediction log serialized the same values again. Here each row's
prediction and probabilities become JSON text once; the response is put together from those
pieces (its shape is the response model in payloads.py, which /docs shows and the tests check),
and the log stores the same pieces.

NaN and infinity are not JSON numbers: the API refuses rows whose answer is not finite
(Scores.non_finite_rows) before rendering them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from .runtime import Scores

NO_WARNINGS = "[]"


@dataclass(frozen=True)
class Answers:
    """One request's answers as JSON text, one item per row."""

    predictions: list[str]
    probabilities: list[str] | None  # None for regression
    warnings: list[str]  # JSON arrays of strings

    def row(self, index: int, more: str = "") -> str:
        """Return one row's answer as a JSON object, then `more` members (JSON text, comma first)."""
        members = '"prediction":' + self.predictions[index]
        if self.probabilities is not None:
            members += ',"probabilities":' + self.probabilities[index]
        return "{" + members + ',"warnings":' + self.warnings[index] + more + "}"


class AnswerFormat:
    """Render scores as JSON; the labels and the model version are encoded once, at start-up."""

    def __init__(self, classes: list[str] | None, model_version: str) -> None:
        self.version = json.dumps(model_version)
        self.labels = {label: json.dumps(label) for label in classes or []}
        # '{"Adelie":%r,"Gentoo":%r}': repr() of a finite float is a JSON number.
        keys = [json.dumps(label).replace("%", "%%") for label in classes or []]
        self.probability_object = "{" + ",".join(f"{key}:%r" for key in keys) + "}"

    def render(self, scores: Scores, warnings: Sequence[list[str]]) -> Answers:
        """Each row's prediction, probabilities and warnings as JSON text."""
        flags = [json.dumps(row) if row else NO_WARNINGS for row in warnings]
        if scores.probabilities is None:
            return Answers([repr(float(value)) for value in scores.predictions], None, flags)
        labels = [self.labels.get(label) or json.dumps(label) for label in scores.predictions]
        probabilities = [self.probability_object % tuple(row) for row in scores.probabilities.tolist()]
        return Answers(labels, probabilities, flags)

    def response(self, answers: Answers) -> bytes:
        """The body of POST /predict: the one row's answer and the model version."""
        return answers.row(0, f',"model_version":{self.version}').encode()

    def batch_response(self, answers: Answers) -> bytes:
        """The body of POST /predict/batch: every row's answer, in order, and the model version."""
        rows = ",".join(answers.row(index) for index in range(len(answers.predictions)))
        return ('{"predictions":[' + rows + '],"model_version":' + self.version + "}").encode()
