"""notebooks/01-explore.ipynb: committed without outputs, and it runs top to bottom."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install
from nbclient import NotebookClient

from .conftest import PROJECT_ROOT

NOTEBOOK = PROJECT_ROOT / "notebooks" / "01-explore.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{NOTEBOOK.name}: clear the outputs before committing (cell {cell.id})"
            )


def test_notebook_runs_on_this_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute it headless in a kernel of the interpreter that runs the tests (the project's .venv)."""
    install(kernel_name="project-python", prefix=str(tmp_path))  # a kernel spec naming sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    source = str(PROJECT_ROOT / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="project-python",
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},  # the kernel starts in notebooks/
    )
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert any("image/png" in output.get("data", {}) for output in outputs), "the notebook draws plots"
