"""config.py: a bad config fails with the key path, the bad value and the allowed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.errors import ConfigError
from {{ cookiecutter.module_name }}.project import load_project

from .conftest import write_config


def test_default_config_loads_and_anchors_paths(config_path: Path) -> None:
    project = load_project(config_path)
    assert project.root == config_path.parent.parent
    assert project.processed_dir == project.root / "data" / "processed"
    assert project.tracking_uri == f"sqlite:///{project.root / 'mlflow.db'}"


def test_unknown_key_names_it_and_suggests_the_right_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, data={"trget": "x"})
    with pytest.raises(ConfigError, match=r"unknown key 'data.trget' — did you mean 'target'\?"):
        load_project(path)


def test_bad_choice_lists_allowed_values(tmp_path: Path) -> None:
    path = write_config(tmp_path, data={"task": "classify"})
    with pytest.raises(
        ConfigError, match=r"data.task = 'classify' is not allowed — use one of: 'classification'"
    ):
        load_project(path)


def test_csv_source_without_path_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, data={"source": "csv", "path": None})
    with pytest.raises(ConfigError, match=r"set data\.path"):
        load_project(path)


@pytest.mark.parametrize(("task", "metric"), [("classification", "rmse"), ("regression", "accuracy")])
def test_a_primary_metric_of_the_other_task_is_refused_before_any_work(
    tmp_path: Path, task: str, metric: str
) -> None:
    path = write_config(tmp_path, data={"task": task}, evaluation={"primary_metric": metric})
    with pytest.raises(
        ConfigError, match=rf"evaluation.primary_metric = '{metric}' is not a {task} metric — use"
    ):
        load_project(path)


def test_out_of_range_value_names_the_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, split={"test_size": 1.5})
    with pytest.raises(ConfigError, match=r"split.test_size = 1.5"):
        load_project(path)


def test_invalid_yaml_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "configs" / "config.yaml"
    path.parent.mkdir()
    path.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_project(path)


def test_missing_config_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path / "nope.yaml")
