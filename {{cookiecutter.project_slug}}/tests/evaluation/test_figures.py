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


def test_figure_numbers_agree_with_the_report(trained_project: Project) -> None:
    report = json.loads((trained_project.reports_dir / "metrics.json").read_text())
    _, test, contract = load_processed(trained_project)
    model, _ = load_skops(trained_project.candidate_dir)
    X, y = test[contract.feature_names], test[contract.target]
    if contract.task != "classification":
        assert (trained_project.figures_dir / "residuals.png").read_bytes()[:4] == b"\x89PNG"
        return
    _, matrix = figures.confusion(y, model.predict(X), contract)
    assert matrix.sum() == len(test)
    assert abs(np.trace(matrix) / len(test) - report["model"]["accuracy"]) < 1e-12
    curves = figures.class_curves(model, X, y)
    for curve in (curve for lines in curves.values() for curve in lines):
        assert ((curve.x >= 0) & (curve.x <= 1)).all() and ((curve.y >= 0) & (curve.y <= 1)).all()
    if len(curves["roc_curve"]) == 1:  # binary: the curve's area is the report's ROC AUC
        assert abs(curves["roc_curve"][0].summary - report["model"]["roc_auc"]) < 1e-9


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("classes", [2, 40])
def test_figures_draw_for_few_and_many_classes_and_absent_ones(tmp_path: Path, classes: int) -> None:
    rng = np.random.default_rng(0)
    labels = [f"class with a long name {i}" for i in range(classes)]
    figures.draw_confusion_matrix(tmp_path / "matrix.png", labels, rng.integers(0, 5, (classes, classes)))
    curves = [
        figures.Curve(label, np.linspace(0, 1, 5), np.linspace(0, 1, 5) ** 0.5, 0.7) for label in labels
    ]
    figures.draw_curves(tmp_path / "roc_curve.png", curves)
    figures.draw_curves(tmp_path / "precision_recall.png", [])  # positive class absent: no curve
    figures.draw_importance(tmp_path / "importance.png", {"x": {"mean": 0.1, "std": 0.0}})
    for path in tmp_path.iterdir():
        assert path.read_bytes()[:4] == b"\x89PNG"
