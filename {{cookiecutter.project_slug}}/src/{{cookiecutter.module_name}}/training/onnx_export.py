"""Export the fitted Pipeline to ONNX and decide which runtime serves it.

ONNX Runtime scores a row in microseconds and loads no code, but it computes in float32. The
ONNX graph serves only when it gives the same answers as the Pipeline on the held-out split:
same labels and probabilities within PROBA_TOLERANCE, or regression values within
REGRESSION_TOLERANCE (relative). Otherwise, or when the model does not convert at all (today:
most tree ensembles), the skops Pipeline serves, and model.json says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import model_files
from ..contract import CATEGORICAL, Contract
from ..project import Project

ONNX_FILE = "model.onnx"
PROBA_TOLERANCE = 1e-5  # absolute, per class probability
REGRESSION_TOLERANCE = 1e-5  # relative to the prediction's magnitude (floored, see check_parity)


@dataclass(frozen=True)
class Parity:
    """How the ONNX graph compares with the Pipeline on the held-out rows."""

    passed: bool
    rows: int
    max_abs_diff: float
    max_rel_diff: float
    label_mismatches: int = 0

    @property
    def reason(self) -> str:
        if self.passed:
            return f"ONNX matches the Pipeline on {self.rows} held-out rows (max abs diff {self.max_abs_diff:.2g})"
        if self.label_mismatches:
            return f"ONNX labels differ from the Pipeline on {self.label_mismatches} of {self.rows} held-out rows"
        return (
            f"ONNX differs from the Pipeline on held-out rows by up to {self.max_abs_diff:.3g} "
            f"(relative {self.max_rel_diff:.3g}), above the 1e-5 tolerance"
        )


def onnx_inputs(contract: Contract, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Turn a frame of features into ONNX feeds: one (n, 1) column per feature."""
    return {
        feature.name: (
            frame[feature.name].astype(str).to_numpy(dtype=object)
            if feature.kind == CATEGORICAL
            else frame[feature.name].to_numpy(dtype=np.float32)
        ).reshape(-1, 1)
        for feature in contract.features
    }


def convert(model: Any, contract: Contract) -> bytes:
    """Convert the fitted Pipeline: string inputs for labels, float32 for numbers and flags."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    initial_types = [
        (
            feature.name,
            StringTensorType([None, 1]) if feature.kind == CATEGORICAL else FloatTensorType([None, 1]),
        )
        for feature in contract.features
    ]
    # zipmap=False: probabilities as one float matrix (columns in model.classes_ order), not a list of dicts.
    options = {"zipmap": False} if contract.task == "classification" else None
    graph = to_onnx(model, initial_types=initial_types, options=options)
    # skl2onnx lists the opset domains in set order, which changes between processes; sorted, the
    # same model always gives the same bytes, so `reproduce` can compare model.onnx digests.
    opsets = sorted(graph.opset_import, key=lambda opset: opset.domain)
    del graph.opset_import[:]
    graph.opset_import.extend(opsets)
    return graph.SerializeToString()


def check_parity(model: Any, onnx_bytes: bytes, contract: Contract, held_out: pd.DataFrame) -> Parity:
    """Score the held-out rows with both runtimes and compare."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    X = held_out[contract.feature_names]
    outputs = session.run(None, onnx_inputs(contract, X))
    if contract.task == "classification":
        labels, proba = np.asarray(outputs[0]).astype(str), np.asarray(outputs[1], dtype=float)
        mismatches = int((labels != model.predict(X).astype(str)).sum())
        diff = np.abs(proba - model.predict_proba(X))
        max_abs = float(diff.max(initial=0.0))
        passed = mismatches == 0 and max_abs <= PROBA_TOLERANCE
        return Parity(passed, len(X), max_abs, max_abs, mismatches)
    expected = model.predict(X).astype(float)
    predicted = np.asarray(outputs[0], dtype=float).reshape(-1)
    diff = np.abs(predicted - expected)
    # Relative to each value, floored at the mean magnitude so predictions near zero do not divide by ~0.
    scale = np.maximum(np.abs(expected), np.abs(expected).mean() or 1.0)
    max_rel = float((diff / scale).max(initial=0.0))
    return Parity(max_rel <= REGRESSION_TOLERANCE, len(X), float(diff.max(initial=0.0)), max_rel)


def export_onnx(
    project: Project, model: Any, contract: Contract, files: dict[str, str], models_dir: Path | None = None
) -> dict[str, Any]:
    """Write model.onnx (to models_dir, default models/) when the model converts; return the serving fields.

    Returns `files` plus the ONNX digest, `runtime` ("onnx" or "skops"), `runtime_reason` and
    `onnx_parity` (the comparison, or null when the model did not convert), for model.json.
    """
    path = (models_dir or project.models_dir) / ONNX_FILE
    path.unlink(missing_ok=True)  # a stale graph from an earlier model must never be served
    try:
        onnx_bytes = convert(model, contract)
    except Exception as exc:  # skl2onnx raises many types for unsupported models
        reason = (
            f"{type(model[-1]).__name__} does not convert to ONNX ({type(exc).__name__}: {_first_line(exc)})"
        )
        return {"files": dict(files), "runtime": "skops", "runtime_reason": reason, "onnx_parity": None}
    parity = check_parity(model, onnx_bytes, contract, load_held_out(project))
    digest = write_bytes(path, onnx_bytes)
    return {
        "files": {**files, ONNX_FILE: digest},
        "runtime": "onnx" if parity.passed else "skops",
        "runtime_reason": parity.reason,
        "onnx_parity": {
            "passed": parity.passed,
            "rows": parity.rows,
            "max_abs_diff": parity.max_abs_diff,
            "max_rel_diff": parity.max_rel_diff,
            "label_mismatches": parity.label_mismatches,
        },
    }


def load_held_out(project: Project) -> pd.DataFrame:
    return pd.read_parquet(project.processed_dir / "test.parquet")


def write_bytes(path: Path, payload: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return model_files.sha256_file(path)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no message"
