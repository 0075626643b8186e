"""flows/after_release.py under Prefect's own test harness (offline): retrain runs only after a failed check."""

from __future__ import annotations

import importlib.util
import stat
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Not conftest's: .venv-flow holds the project without its extras, so this file runs there alone.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
prefect_testing = pytest.importorskip(
    "prefect.testing.utilities",
    reason="Prefect is not here: .venv-flow/bin/python -m pytest --noconftest tests/test_flow.py (make flow makes it)",
)


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server (SQLite) for the module; a busy machine may take a minute to start it."""
    with prefect_testing.prefect_test_harness(server_startup_timeout=120):
        yield


def load_flow_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "after_release", PROJECT_ROOT / "flows" / "after_release.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_python(folder: Path, monitor_exit: int) -> tuple[str, Path]:
    """A stand-in for the project's Python: it notes each command and exits as monitor would."""
    calls = folder / "calls.txt"
    script = folder / "python"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\ncase "$3" in monitor) exit {monitor_exit};; *) exit 0;; esac\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), calls


@pytest.mark.parametrize(("monitor_exit", "retrained"), [(0, False), (2, False), (1, True), (4, True)])
def test_the_flow_retrains_only_after_a_failed_check(
    tmp_path: Path, monitor_exit: int, retrained: bool, prefect_server: None
) -> None:
    module = load_flow_module()
    python, calls = fake_python(tmp_path, monitor_exit)
    message = module.after_release(python)
    commands = [line.split()[2] for line in calls.read_text().splitlines()]
    assert commands == (["monitor", "retrain"] if retrained else ["monitor"]), message
