"""The figures show the held-out numbers the report states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.module_name }}.data.prepare import load_processed
from {{ cookiecutter.module_name }}.evaluation import figures
from {{ cookiecutter.module_name }}.model_files import load_skops
from {{ cookiecutter.module_name }}.project import Project


def test_figure_data_agrees_with_the_report(trained_project: Project) -> None:
    report = json.loads((trained_project.reports_dir / "metrics.json").read_text())
    _, test, contract = load_processed(trained_project)
    model, _ = load_skops(trained_project.candidate_dir)
    X, y = test[contract.feature_names], test[contract.target]
    data = figures.figure_data(model, X, y, contract, report["permutation_importance"])
    if contract.task == "classification":
        assert data.matrix is not None and data.matrix.sum() == len(test)
        assert abs(np.trace(data.matrix) / len(test) - report["model"]["accuracy"]) < 1e-12
        for curve in (curve for curves in data.curves.values() for curve in curves):
            assert ((curve.x >= 0) & (curve.x <= 1)).all() and ((curve.y >= 0) & (curve.y <= 1)).all()
        if len(data.curves["roc_curve"]) == 1:  # binary: the curve's area is the report's ROC AUC
            assert abs(data.curves["roc_curve"][0].summary - report["model"]["roc_auc"]) < 1e-9
    else:
        rmse = float(np.sqrt(np.mean((data.actual - data.predicted) ** 2)))
        assert abs(rmse - report["model"]["rmse"]) < 1e-9


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("classes", [2, 40])
def test_figures_draw_for_few_and_many_classes_and_absent_ones(tmp_path: Path, classes: int) -> None:
    rng = np.random.default_rng(0)
    labels = [f"class with a long name {i}" for i in range(classes)]
    matrix = rng.integers(0, 5, (classes, classes))
    curves = [
        figures.Curve(label, np.linspace(0, 1, 5), np.linspace(0, 1, 5) ** 0.5, 0.7) for label in labels
    ]
    absent: list[figures.Curve] = []  # binary, positive class absent from the held-out rows: no curve
    drawn = {"roc_curve": curves, "precision_recall": absent, "calibration": curves}
    data = figures.FigureData("classification", "y", {"x": {"mean": 0.1, "std": 0.0}}, labels, matrix, drawn)
    for path in figures.draw_figures(tmp_path, data):
        assert path.read_bytes()[:4] == b"\x89PNG"
