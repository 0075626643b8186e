"""Shared helpers for the template's tests: bake a project and run commands in it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
# FAST=1 (make test-fast) keeps only the default answers for the slow, end-to-end tests.
FAST = os.environ.get("FAST", "") not in ("", "0", "false")
# The hook and `make install` look for uv on PATH: find the one beside this Python, as `make test` does.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
# Figures a test measured (image sizes, ...), printed at the end of the run.
REPORT: list[str] = []


def bake(output_dir: Path, **answers: str) -> Path:
    """Generate a project from the template without prompts and return its folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE_DIR), no_input=True, output_dir=str(output_dir), extra_context=answers
        )
    )


def project_env(project: Path) -> dict[str, str]:
    """Environment that imports the baked package from its src/ without installing it."""
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run(
    args: list[str], cwd: Path, timeout: int = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it does not exit 0."""
    result = subprocess.run(
        args, cwd=cwd, env=env or project_env(cwd), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def python() -> str:
    return sys.executable


@pytest.fixture
def slow_case() -> None:
    if FAST:
        pytest.skip("FAST=1: end-to-end case skipped (defaults only)")


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Bake a dataset's project and run its pipeline, once per session for every test that asks."""
    projects: dict[str, Path] = {}

    def get(dataset: str) -> Path:
        if dataset not in projects:
            project = bake(tmp_path_factory.mktemp(dataset), dataset=dataset)
            run([python(), "-m", project.name.replace("-", "_"), "pipeline"], cwd=project)
            projects[dataset] = project
        return projects[dataset]

    return get


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in REPORT:
        terminalreporter.write_line(line)
