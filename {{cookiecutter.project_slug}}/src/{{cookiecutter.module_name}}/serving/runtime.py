"""Load the served model (ONNX Runtime or the skops Pipeline, as model.json says) and score rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import model_files
from ..contract import CATEGORICAL, MISSING_CATEGORY, Contract
from ..data.derived import add_to_rows, check_hook

Row = dict[str, Any]
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Scores:
    """The model's answers for a list of rows, in row order."""

    predictions: list[Any]  # class labels (str) or regression values (float)
    probabilities: np.ndarray | None = None  # (rows, classes), columns in Predictor.classes order

    def slice(self, start: int, stop: int) -> Scores:
        proba = None if self.probabilities is None else self.probabilities[start:stop]
        return Scores(self.predictions[start:stop], proba)

    def non_finite_rows(self) -> list[int]:
        """Rows whose answer is not a finite number: float32 overflowed on extreme inputs."""
        values = self.predictions if self.probabilities is None else self.probabilities
        # A sum is finite only if every term is: one cheap check for the usual case, all finite.
        if math.isfinite(sum(values if self.probabilities is None else values.ravel().tolist())):
            return []
        bad = ~np.isfinite(np.asarray(values, dtype=float))
        return np.flatnonzero(bad.any(axis=1) if bad.ndim == 2 else bad).tolist()


class Predictor(Protocol):
    runtime: str
    classes: list[str] | None

    def predict(self, rows: list[Row]) -> Scores: ...


class OnnxPredictor:
    """Score rows with ONNX Runtime: one (n, 1) input per feature, as exported."""

    runtime = "onnx"

    def __init__(self, path: Path, contract: Contract, classes: list[str] | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread per session: a request is a few rows, and uvicorn workers scale across cores.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.classes = classes
        self.contract = contract
        self.labels = [feature.name for feature in contract.features if feature.kind == CATEGORICAL]
        self.numbers = [feature.name for feature in contract.features if feature.kind != CATEGORICAL]

    def predict(self, rows: list[Row]) -> Scores:
        add_to_rows(rows, self.contract)  # the features data/derived.py computes, as in training
        feeds = {name: _labels(rows, name) for name in self.labels}
        if self.numbers:
            # All numeric inputs in one array, a row per feature (None becomes NaN, flags 1.0/0.0):
            # one conversion instead of one per feature, then each input is a view of its row.
            numbers = np.array([[row[name] for row in rows] for name in self.numbers], dtype=np.float32)
            feeds.update((name, numbers[index].reshape(-1, 1)) for index, name in enumerate(self.numbers))
        outputs = self.session.run(None, feeds)
        if self.classes is None:
            return Scores(np.asarray(outputs[0], dtype=float).reshape(-1).tolist())
        return Scores(np.asarray(outputs[0]).astype(str).tolist(), np.asarray(outputs[1], dtype=float))


def _labels(rows: list[Row], name: str) -> np.ndarray:
    values = [MISSING_CATEGORY if row[name] is None else str(row[name]) for row in rows]
    return np.array(values, dtype=object).reshape(-1, 1)


class SkopsPredictor:
    """Score rows with the fitted scikit-learn Pipeline (the fallback when ONNX failed parity)."""

    runtime = "skops"

    def __init__(self, model: Any, contract: Contract) -> None:
        self.model = model
        self.contract = contract
        self.classes = [str(label) for label in model.classes_] if contract.task == "classification" else None

    def predict(self, rows: list[Row]) -> Scores:
        import pandas as pd

        add_to_rows(rows, self.contract)  # the features data/derived.py computes, as in training
        frame = pd.DataFrame.from_records(rows, columns=self.contract.feature_names)
        for feature in self.contract.features:
            column = frame[feature.name]
            if feature.kind == CATEGORICAL:
                frame[feature.name] = column.fillna(MISSING_CATEGORY).astype(str).astype(object)
            else:
                frame[feature.name] = pd.to_numeric(column, errors="coerce").astype(float)
        # Scaling can push a number within float32 past it (3e38 / 0.5), and tree estimators, which
        # compute in float32, refuse it. Such a value is beyond every split either way: clip it to
        # the float32 range (ONNX sees it as infinity and scores it the same).
        features = np.clip(self.model[:-1].transform(frame), -FLOAT32_MAX, FLOAT32_MAX)
        estimator = self.model[-1]
        if self.classes is None:
            return Scores(np.asarray(estimator.predict(features), dtype=float).tolist())
        # One pass through the estimator: the label is the most probable class, as predict() would say.
        proba = np.asarray(estimator.predict_proba(features), dtype=float)
        return Scores([self.classes[i] for i in proba.argmax(axis=1)], proba)


def load_contract(metadata: dict[str, Any]) -> Contract:
    if "contract" not in metadata:
        raise model_files.ModelFileError('models/model.json has no data contract — run "make train" again.')
    return Contract.from_dict(metadata["contract"])


def load_predictor(models_dir: Path, metadata: dict[str, Any] | None = None) -> Predictor:
    """Load the runtime that model.json names, after checking the model file's digest.

    Raises:
        ModelFileError: model.json or the model file is missing, or the file changed after export.
        DataError: data/derived.py no longer makes the features the model was trained on.
    """
    metadata = metadata or model_files.read_metadata(models_dir)
    contract = load_contract(metadata)
    check_hook(contract)
    if metadata.get("runtime") == "onnx":
        path = model_files.verified_path(models_dir, "model.onnx", metadata)
        return OnnxPredictor(path, contract, metadata.get("classes"))
    import skops.io as sio

    path = model_files.verified_path(models_dir, "model.skops", metadata)
    return SkopsPredictor(sio.load(path, trusted=model_files.TRUSTED_TYPES), contract)
