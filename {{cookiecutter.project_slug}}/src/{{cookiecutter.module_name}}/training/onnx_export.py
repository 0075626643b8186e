"""Export the fitted Pipeline to ONNX; the graph serves only if it gives the Pipeline's answers.

ONNX Runtime computes in float32, so the graph is compared with the Pipeline on the held-out rows:
the same labels and probabilities within PROBA_TOLERANCE, or regression values within
REGRESSION_TOLERANCE (relative). Otherwise, or when the model does not convert (most tree
ensembles), the skops Pipeline serves, and model.json says why.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..contract import CATEGORICAL, Contract

ONNX_FILE = "model.onnx"
PROBA_TOLERANCE = 1e-5  # absolute, per class probability
REGRESSION_TOLERANCE = 1e-5  # relative to the prediction's magnitude (floored, see check_parity)


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


def check_parity(model: Any, onnx_bytes: bytes, contract: Contract, held_out: pd.DataFrame) -> dict[str, Any]:
    """Score the held-out rows with both runtimes and compare; `reason` says the verdict in a line."""
    import onnxruntime as ort

    X = held_out[contract.feature_names]
    feeds = {  # one (n, 1) column per feature, typed as in convert()
        feature.name: (
            X[feature.name].astype(str).to_numpy(dtype=object)
            if feature.kind == CATEGORICAL
            else X[feature.name].to_numpy(dtype=np.float32)
        ).reshape(-1, 1)
        for feature in contract.features
    }
    outputs = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(None, feeds)
    if contract.task == "classification":
        mismatches = int((np.asarray(outputs[0]).astype(str) != model.predict(X).astype(str)).sum())
        max_abs = max_rel = float(np.abs(np.asarray(outputs[1], dtype=float) - model.predict_proba(X)).max())
        passed = mismatches == 0 and max_abs <= PROBA_TOLERANCE
    else:
        expected = model.predict(X).astype(float)
        diff = np.abs(np.asarray(outputs[0], dtype=float).reshape(-1) - expected)
        # Relative to each value, floored at the mean magnitude so predictions near zero do not divide by ~0.
        scale = np.maximum(np.abs(expected), np.abs(expected).mean() or 1.0)
        mismatches, max_abs, max_rel = 0, float(diff.max()), float((diff / scale).max())
        passed = max_rel <= REGRESSION_TOLERANCE
    if passed:
        reason = f"ONNX matches the Pipeline on {len(X)} held-out rows (max abs diff {max_abs:.2g})"
    elif mismatches:
        reason = f"ONNX labels differ from the Pipeline on {mismatches} of {len(X)} held-out rows"
    else:
        reason = (
            f"ONNX differs from the Pipeline on held-out rows by up to {max_abs:.3g} "
            f"(relative {max_rel:.3g}), above the 1e-5 tolerance"
        )
    return {
        "passed": passed,
        "rows": len(X),
        "max_abs_diff": max_abs,
        "max_rel_diff": max_rel,
        "label_mismatches": mismatches,
        "reason": reason,
    }


def export_onnx(
    model: Any, contract: Contract, held_out: pd.DataFrame, files: dict[str, str], models_dir: Path
) -> dict[str, Any]:
    """Write model.onnx when the model converts; return model.json's files, runtime and its reason, parity."""
    path = models_dir / ONNX_FILE
    path.unlink(missing_ok=True)  # a stale graph from an earlier model must never be served
    try:
        onnx_bytes = convert(model, contract)
    except Exception as exc:  # skl2onnx raises many types for unsupported models
        message = (str(exc).strip() or "no message").splitlines()[0][:200]
        reason = f"{type(model[-1]).__name__} does not convert to ONNX ({type(exc).__name__}: {message})"
        return {"files": dict(files), "runtime": "skops", "runtime_reason": reason, "onnx_parity": None}
    parity = check_parity(model, onnx_bytes, contract, held_out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onnx_bytes)
    return {
        "files": {**files, ONNX_FILE: hashlib.sha256(onnx_bytes).hexdigest()},
        "runtime": "onnx" if parity["passed"] else "skops",
        "runtime_reason": parity.pop("reason"),
        "onnx_parity": parity,
    }
