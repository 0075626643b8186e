"""Bake the template with every supported combination of answers and check the result works.

Rendering cases are cheap (render, no Jinja left, ruff); end-to-end cases run the baked project's
pipeline and its own test suite, one per dataset; one case installs it with `make install`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .conftest import FAST, bake, python, run

# (id, answers): every dataset, every license, every Python version at least once.
RENDER_CASES = [
    ("defaults", {}),
    (
        "breast-cancer-bsd-py312",
        {"dataset": "breast_cancer", "license": "BSD-3-Clause", "python_version": "3.12"},
    ),
    (
        "diabetes-apache-py313",
        {"dataset": "diabetes", "license": "Apache-2.0", "python_version": "3.13"},
    ),
    ("penguins-nolicense-py310", {"license": "none", "python_version": "3.10"}),
    (
        "custom-names",
        {"project_name": "Churn Radar", "author_name": "Ada O'Brien", "description": 'Says "hi"'},
    ),
]
DATASETS = ["penguins"] if FAST else ["penguins", "breast_cancer", "diabetes"]
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|%\}")


def text_files(project: Path) -> list[Path]:
    return [
        p
        for p in project.rglob("*")
        if p.is_file()
        and p.suffix not in {".png", ".db", ".parquet"}
        and ".git" not in p.relative_to(project).parts  # the repository that git_init made
    ]


@pytest.mark.parametrize(
    ("answers"), [case for _, case in RENDER_CASES], ids=[name for name, _ in RENDER_CASES]
)
def test_bake_renders_clean_lintable_project(tmp_path: Path, answers: dict[str, str]) -> None:
    project = bake(tmp_path, **answers)
    for path in text_files(project):
        text = path.read_text(encoding="utf-8")
        assert not LEFTOVER_JINJA.search(text), f"unrendered Jinja in {path.relative_to(project)}"
    assert (project / "LICENSE").exists() == (answers.get("license", "MIT") != "none")
    run([python(), "-m", "ruff", "check", "."], cwd=project)
    run([python(), "-m", "ruff", "format", "--check", "."], cwd=project)


def test_bake_uses_answers_in_config_and_package(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Churn Radar", dataset="diabetes")
    assert project.name == "churn-radar"
    assert (project / "src" / "churn_radar" / "cli.py").is_file()
    config = (project / "configs" / "config.yaml").read_text()
    assert "source: diabetes" in config and "task: regression" in config


@pytest.mark.parametrize("dataset", DATASETS)
def test_baked_project_pipeline_and_own_tests_pass(
    trained_project: Callable[[str], Path], dataset: str
) -> None:
    project = trained_project(dataset)
    report = json.loads((project / "reports" / "metrics.json").read_text())
    assert report["beats_baseline"], f"{dataset}: model does not beat the baseline: {report}"
    run(
        [
            python(),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "auto",
            "--dist",
            "loadfile",
        ],
        cwd=project,
        timeout=300,
    )


def test_baked_project_pipeline_runs_on_the_sample_sqlite_database(tmp_path: Path) -> None:
    """The README's SQL path, offline: sample-db, then data.source: sql in config.yaml, then pipeline."""
    project = bake(tmp_path)
    module = project.name.replace("-", "_")
    run([python(), "-m", module, "sample-db"], cwd=project)
    config_path = project / "configs" / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    table = config["data"]["source"]
    config["data"].update(source="sql", url="sqlite:///data/sample.db", table=table)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    run([python(), "-m", module, "pipeline"], cwd=project)
    report = json.loads((project / "reports" / "metrics.json").read_text())
    assert report["beats_baseline"], (
        f"sql source ({table}): model does not beat the baseline: {report}"
    )
    # reproduce re-runs in a temporary folder: the relative SQLite path must still resolve
    run([python(), "-m", module, "reproduce"], cwd=project)


@pytest.mark.usefixtures("slow_case")
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_fresh_bake_make_install_pipeline_test(tmp_path: Path) -> None:
    """What a user does: make install (a real venv from pyproject), make pipeline, make test."""
    project = bake(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    run(["make", "install"], cwd=project, timeout=900, env=env)
    run(["make", "pipeline"], cwd=project, env=env)
    run(["make", "test"], cwd=project, env=env)
    run(["make", "lint"], cwd=project, env=env)
    assert "pipeline" in run(["make"], cwd=project, env=env).stdout, "make help lists the targets"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_baked_project_gitignore_keeps_every_source_file(tmp_path: Path) -> None:
    """The data-product patterns (monitoring/, models/, ...) must not hide a package of the same name."""
    project = bake(tmp_path)
    run(["git", "init", "-q"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    tracked = set(run(["git", "ls-files"], cwd=project).stdout.split())
    sources = {
        str(path.relative_to(project))
        for folder in ("src", "tests", "benchmarks")
        for path in (project / folder).rglob("*.py")
    }
    assert sources <= tracked, f"ignored by .gitignore: {sorted(sources - tracked)}"


# A Markdown link or image whose target is a path in the repository: [text](path) or ![alt](path).
RELATIVE_LINK = re.compile(r"!?\[[^\]]*\]\((?!https?://|mailto:|#)([^)\s#]+)")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git (apt-get install git)")
@pytest.mark.parametrize("dataset", ["penguins"] if FAST else ["penguins", "diabetes"])
def test_readme_links_and_images_resolve_in_the_committed_tree(
    tmp_path: Path, dataset: str
) -> None:
    """On GitHub a visitor sees only what git tracks: every README link must point at a tracked file."""
    project = bake(tmp_path, dataset=dataset, git_init="no")
    run([python(), "-m", project.name.replace("-", "_"), "pipeline"], cwd=project)
    run(["git", "init", "-q"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    tracked = set(run(["git", "ls-files"], cwd=project).stdout.split())
    readme = (project / "README.md").read_text(encoding="utf-8")
    links = set(RELATIVE_LINK.findall(readme))
    assert {"results/model_card.md", "results/figures/permutation_importance.png"} <= links, links
    folders = {
        str(folder) for path in tracked for folder in Path(path).parents
    }  # a link may name one
    untracked = sorted(link for link in links if os.path.normpath(link) not in tracked | folders)
    assert not untracked, (
        f"README links to files git does not track (or that do not exist): {untracked}"
    )
    card = (project / "results" / "model_card.md").read_text(encoding="utf-8")
    in_card = {f"results/{link}" for link in RELATIVE_LINK.findall(card)}
    assert in_card <= tracked, (
        f"the committed model card links untracked files: {sorted(in_card - tracked)}"
    )
    size = sum((project / path).stat().st_size for path in tracked if path.startswith("results/"))
    assert size < 500_000, (
        f"results/ is {size} bytes: a visitor's copy should stay a few hundred KB"
    )
