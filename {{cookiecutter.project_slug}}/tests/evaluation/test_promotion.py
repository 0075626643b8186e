"""The promotion gate's three outcomes: promote, lose to the baseline, lose to the champion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.evaluation.promotion import compare
from {{ cookiecutter.module_name }}.model_files import load_skops, read_metadata
from {{ cookiecutter.module_name }}.project import Project, load_project


def aliases(project: Project) -> dict[str, str]:
    import mlflow

    mlflow.set_tracking_uri(project.tracking_uri)
    client = mlflow.MlflowClient()
    name = project.config.project_slug
    return {
        alias: str(client.get_model_version_by_alias(name, alias).version)
        for alias in ("champion", "challenger")
    }


def promote_output(config_path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["promote", "--config", str(config_path)]) == 0, "a model that loses is not an error"
    return " ".join(capsys.readouterr().err.split())


def test_first_pipeline_makes_the_model_champion_and_serves_it(trained_project: Project) -> None:
    assert aliases(trained_project) == {"champion": "1", "challenger": "1"}
    served, candidate = (
        read_metadata(trained_project.models_dir),
        read_metadata(trained_project.candidate_dir),
    )
    assert served["mlflow_run_id"] == candidate["mlflow_run_id"], "models/ holds the champion's export"
    load_skops(trained_project.models_dir)  # every file matches the digests in model.json
    assert (trained_project.models_dir / "manifest.json").is_file()
    results = trained_project.results_dir  # the champion's card, metrics and figures, for git
    assert json.loads((results / "metrics.json").read_text())["model_version"] == served["version"]
    assert (results / "model_card.md").is_file() and (
        results / "figures" / "permutation_importance.png"
    ).is_file()


def test_challenger_that_loses_to_the_champion_stays_challenger(
    challenged_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    output = promote_output(challenged_project.config_path, capsys)
    assert "FAILED" in output and "vs champion v1" in output and "margin 0.5" in output
    assert "v2 stays challenger" in output
    assert aliases(challenged_project) == {"champion": "1", "challenger": "2"}
    served = read_metadata(challenged_project.models_dir)
    challenger = read_metadata(challenged_project.candidate_dir)
    assert served["mlflow_run_id"] != challenger["mlflow_run_id"], "v1 keeps serving"
    load_skops(challenged_project.models_dir)


def test_models_dir_keeps_the_champions_own_metrics_after_a_losing_candidate(
    challenged_project: Project,
) -> None:
    served = read_metadata(challenged_project.models_dir)["held_out_metrics"]
    challenger = read_metadata(challenged_project.candidate_dir)["held_out_metrics"]
    champion_report = json.loads((challenged_project.reports_dir / "metrics.json").read_text())
    assert challenger["model"] != served["model"], "the challenger is a different model"
    assert served["model"] == champion_report["model"], "v1's own evaluation, not the loser's"
    assert served["baseline"] == champion_report["baseline"]
    assert {"primary_metric", "n_test", "beats_baseline"} <= set(served)


def test_a_winner_carries_its_held_out_metrics_into_models(trained_project: Project) -> None:
    served = read_metadata(trained_project.models_dir)["held_out_metrics"]
    report = json.loads((trained_project.reports_dir / "metrics.json").read_text())
    assert {key: report[key] for key in served} == served


def test_challenger_that_loses_to_the_baseline_is_not_promoted(
    challenged_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load(challenged_project.config_path.read_text(encoding="utf-8"))
    config["promotion"] = {"margin_vs_baseline": 1e6, "margin_vs_champion": 0.0}
    strict = challenged_project.config_path.with_name("strict.yaml")
    strict.write_text(yaml.safe_dump(config), encoding="utf-8")
    output = promote_output(strict, capsys)
    assert "FAILED" in output and "vs dummy baseline" in output and "margin 1e+06" in output
    assert aliases(challenged_project)["champion"] == "1"


@pytest.mark.parametrize(
    ("task", "metric", "candidate", "reference", "margin", "passed"),
    [
        ("classification", "f1_macro", 0.90, 0.80, 0.05, True),
        ("classification", "f1_macro", 0.84, 0.80, 0.05, False),
        ("classification", "f1_macro", 0.80, 0.80, 0.0, False),
        ("regression", "rmse", 40.0, 50.0, 5.0, True),
        ("regression", "rmse", 46.0, 50.0, 5.0, False),
    ],
    ids=["beats-by-margin", "within-margin", "tie", "lower-error-wins", "error-within-margin"],
)
def test_comparison_needs_to_clear_the_margin_in_the_metric_direction(
    task: str, metric: str, candidate: float, reference: float, margin: float, passed: bool
) -> None:
    cleared, line = compare(task, metric, candidate, "reference", reference, margin)
    assert cleared is passed and line.startswith("passed" if passed else "FAILED"), line


def test_without_a_champion_serving_says_the_candidate_failed_the_gate(tmp_path: Path) -> None:
    from {{ cookiecutter.module_name }}.model_files import ModelFileError

    (tmp_path / "candidate").mkdir()
    (tmp_path / "candidate" / "model.json").write_text("{}")
    with pytest.raises(ModelFileError, match=r"was not promoted — run \"make promote\""):
        read_metadata(tmp_path)


def test_a_first_model_that_fails_the_gate_leaves_nothing_served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ..conftest import write_config

    promotion = {"margin_vs_baseline": 1e6, "margin_vs_champion": 0.0}
    path = write_config(tmp_path, cv={"folds": 2}, promotion=promotion)
    for command in ("data", "train", "promote"):  # promote scores the candidate itself
        assert main([command, "--config", str(path)]) == 0, "a model that loses is not an error"
    output = " ".join(capsys.readouterr().err.split())
    assert "v1 stays challenger; nothing is served yet" in output
    assert main(["serve", "--config", str(path)]) == 1
    assert "was not promoted" in " ".join(capsys.readouterr().err.split())


def test_switching_to_another_problem_says_so_and_replaces_the_champion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a champion that predicts `value` (regression), a model for `label` (classification) is
    judged against the baseline only; models/, the registry and the README then agree on it."""
    import mlflow
    import numpy as np
    import pandas as pd

    from ..conftest import write_config

    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=200), rng.normal(size=200)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "label": np.where(x1 > 0, "yes", "no"), "value": 3 * x2})
    frame.to_csv(tmp_path / "input.csv", index=False)
    (tmp_path / "README.md").write_text("<!-- results:start -->\n<!-- results:end -->\n", encoding="utf-8")

    def run(target: str, task: str, *commands: str) -> int:
        data = {"source": "csv", "path": "input.csv", "target": target, "task": task}
        path = write_config(tmp_path, data=data, cv={"folds": 2})
        codes = (main([command, "--config", str(path)]) for command in commands)
        return next((code for code in codes if code != 0), 0)  # the first failure stops the run

    assert run("value", "regression", "data", "train", "promote") == 0
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert not (tmp_path / "results").exists() and "not in results/ yet" in readme, "no evaluation, no card"
    capsys.readouterr()
    assert run("label", "classification", "pipeline") == 0
    output = capsys.readouterr().err
    assert "Traceback" not in output
    notes = [line for line in output.splitlines() if "not comparable" in line]
    assert len(notes) == 1, output
    assert (
        "the champion v1 predicts `value` (regression) and this model predicts `label` (classification)"
        in notes[0]
    )
    project = load_project(tmp_path / "configs" / "config.yaml")
    assert aliases(project) == {"champion": "2", "challenger": "2"}
    served = read_metadata(project.models_dir)
    champion = mlflow.MlflowClient().get_model_version_by_alias(project.config.project_slug, "champion")
    assert (served["target"], served["task"]) == ("label", "classification")
    assert served["mlflow_run_id"] == champion.run_id, "models/ holds the registry's champion"
    assert served["version"] in (tmp_path / "README.md").read_text(encoding="utf-8"), "README shows it too"

    # A config whose target is not in the data stops at the data stage: one line, exit 1, nothing changes.
    assert run("price", "regression", "pipeline") == 1
    error = capsys.readouterr().err.strip()
    assert "data.target: column 'price' is not in the data" in error and "\n" not in error
    assert read_metadata(project.models_dir) == served
