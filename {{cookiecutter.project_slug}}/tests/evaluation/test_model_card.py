"""The model card and the README table carry the numbers of this run, and the risks follow the facts."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from {{ cookiecutter.module_name }}.contract import Contract
from {{ cookiecutter.module_name }}.evaluation import model_card
from {{ cookiecutter.module_name }}.evaluation.risks import describe_drift, limitations
from {{ cookiecutter.module_name }}.project import Project, load_project

from ..conftest import write_config


def read_report(project: Project) -> dict:
    return json.loads((project.reports_dir / "metrics.json").read_text(encoding="utf-8"))


def test_card_shows_the_real_held_out_numbers_and_the_config(trained_project: Project) -> None:
    report = read_report(trained_project)
    card = (trained_project.reports_dir / "model_card.md").read_text(encoding="utf-8")
    primary = report["primary_metric"]
    assert f"| {report['baseline'][primary]:.4f} | " in card, "baseline held-out value"
    assert f"| {report['model'][primary]:.4f} |" in card, "model held-out value"
    assert f"{report['cv']['model'][primary]['std']:.4f}" in card, "cross-validation spread"
    assert trained_project.config.model_card.intended_use in card
    assert trained_project.config.model_card.out_of_scope_use in card
    metadata = json.loads((trained_project.candidate_dir / "model.json").read_text(encoding="utf-8"))
    assert metadata["data_digest"] in card
    for heading in ("## Limitations and risks", "## How to reproduce", "## Slices"):
        assert heading in card


def test_card_lists_every_slice_with_its_count(trained_project: Project) -> None:
    report = read_report(trained_project)
    card = (trained_project.reports_dir / "model_card.md").read_text(encoding="utf-8")
    for entry in report["slices"]:
        assert f"| {entry['column']} | {entry['value']} | {entry['rows']} |" in card


def test_metrics_json_gains_slices_importance_and_data_facts(trained_project: Project) -> None:
    report = read_report(trained_project)
    contract = Contract.load(trained_project.processed_dir / "schema.json")
    assert set(report["permutation_importance"]) == set(contract.feature_names)
    assert report["data"]["n_test"] == report["n_test"]
    for entry in report["slices"]:
        assert entry["rows"] > 0 and isinstance(entry["flagged"], bool)
    for column in {entry["column"] for entry in report["slices"]}:
        rows = sum(entry["rows"] for entry in report["slices"] if entry["column"] == column)
        assert rows == report["n_test"], f"the slices of {column} partition the held-out rows"


def test_figures_for_the_task_are_written_and_logged(trained_project: Project) -> None:
    import mlflow

    expected = {"permutation_importance.png"}
    expected |= (
        {"confusion_matrix.png", "roc_curve.png", "precision_recall.png", "calibration.png"}
        if trained_project.config.data.task == "classification"
        else {"residuals.png"}
    )
    assert expected <= {path.name for path in trained_project.figures_dir.glob("*.png")}
    run_id = json.loads((trained_project.candidate_dir / "model.json").read_text())["mlflow_run_id"]
    mlflow.set_tracking_uri(trained_project.tracking_uri)
    logged = {Path(a.path).name for a in mlflow.MlflowClient().list_artifacts(run_id, "figures")}
    assert expected <= logged
    reports = {Path(a.path).name for a in mlflow.MlflowClient().list_artifacts(run_id, "reports")}
    assert {"metrics.json", "model_card.md"} <= reports


def test_limitations_name_flagged_slices_and_a_model_that_loses_to_the_baseline(
    trained_project: Project,
) -> None:
    report = copy.deepcopy(read_report(trained_project))
    contract = Contract.load(trained_project.processed_dir / "schema.json")
    report["beats_baseline"] = False
    report["slices"] = [
        {
            "column": "region",
            "value": "north",
            "rows": 40,
            "sensitive": True,
            "metrics": {},
            "primary": 0.5,
            "worse_by": 0.3,
            "flagged": True,
        }
    ]
    notes = "\n".join(limitations(report, contract, drift=None))
    assert "does not beat the dummy baseline" in notes
    assert "sensitive group region=north: " in notes and "30% worse" in notes
    assert "No drift report yet" in notes


def test_a_loss_to_the_baseline_names_the_metric_it_loses_on(trained_project: Project) -> None:
    report = copy.deepcopy(read_report(trained_project))
    contract = Contract.load(trained_project.processed_dir / "schema.json")
    # Win on the primary metric, lose on the guard metric (classification's log loss) or the primary.
    lost = "log_loss" if report["task"] == "classification" else report["primary_metric"]
    worse = 1.0 if lost in ("log_loss", "rmse", "mae") else -1.0
    report["model"][lost] = report["baseline"][lost] + worse
    report["beats_baseline"] = False
    notes = "\n".join(limitations(report, contract, drift=None))
    assert f"does not beat the dummy baseline** on {lost} {report['model'][lost]:.4f}" in notes
    if lost != report["primary_metric"]:
        assert f"on {report['primary_metric']}" not in notes.split("do not use it")[0]


def test_texts_written_for_other_data_are_not_shown_as_this_models(
    trained_project: Project, tmp_path: Path
) -> None:
    written_for = trained_project.config.data.source
    data = {"source": "csv", "path": "input.csv", "target": "y", "task": "classification"}
    project = load_project(write_config(tmp_path, data=data, model_card={"written_for": written_for}))
    assert not project.config.model_card.describes("csv")
    contract = Contract.load(trained_project.processed_dir / "schema.json")
    metadata = json.loads((trained_project.candidate_dir / "model.json").read_text())
    card = model_card.render_card(project, read_report(trained_project), contract, metadata, {})
    assert (
        "Not described for this data yet.** The text in `model_card` (configs/config.yaml) was "
        f"written for data.source {written_for}" in card
    )
    assert project.config.model_card.intended_use not in card


def test_drift_report_is_summarised_with_its_verdict() -> None:
    drift = {
        "created": "2026-01-01",
        "rows": 500,
        "drift_share": 0.5,
        "threshold": 0.3,
        "drifted_columns": ["age"],
    }
    text = describe_drift(drift)
    assert "drift detected" in text and "50% of features" in text and "`age`" in text
    assert "no drift beyond" in describe_drift({**drift, "drift_share": 0.1, "drifted_columns": []})
    assert "No drift report yet" in describe_drift(None)


def test_readme_results_are_replaced_between_the_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\nintro\n\n{model_card.README_START}\nold table\n{model_card.README_END}\n\nmore\n",
        encoding="utf-8",
    )
    assert model_card.refresh_readme(readme, "| new | table |") is True
    text = readme.read_text(encoding="utf-8")
    assert f"{model_card.README_START}\n| new | table |\n{model_card.README_END}" in text
    assert text.startswith("# Title\n\nintro\n") and text.endswith("\n\nmore\n") and "old table" not in text


def test_readme_without_markers_is_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n", encoding="utf-8")
    assert model_card.refresh_readme(readme, "| table |") is False
    assert readme.read_text(encoding="utf-8") == "# Title\n"
    assert model_card.refresh_readme(tmp_path / "missing.md", "| table |") is False
