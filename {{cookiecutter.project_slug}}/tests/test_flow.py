"""flows/after_release.py under Prefect's own test harness (offline): retrain runs only after a failed check."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import PROJECT_ROOT

prefect_testing = pytest.importorskip(
    "prefect.testing.utilities",
    reason='Prefect is not installed here: run the flow tests in .venv-flow ("make flow" makes it)',
)


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
    tmp_path: Path, monitor_exit: int, retrained: bool
) -> None:
    module = load_flow_module()
    python, calls = fake_python(tmp_path, monitor_exit)
    with prefect_testing.prefect_test_harness():
        message = module.after_release(python)
    commands = [line.split()[2] for line in calls.read_text().splitlines()]
    assert commands == (["monitor", "retrain"] if retrained else ["monitor"]), message
