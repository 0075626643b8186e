"""The background tracker: calls run in order in one worker process, and no failure goes unreported."""

from __future__ import annotations

import math
import operator
import os
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.config import load_project
from {{ cookiecutter.module_name }}.errors import UserError
from {{ cookiecutter.module_name }}.training.tracking_worker import Tracker

from ..conftest import write_config


def test_background_calls_run_in_another_process_in_order() -> None:
    with Tracker(background=True) as tracker:
        assert tracker.background
        first = tracker.submit(os.getpid)
        assert tracker.call(operator.add, 1, 2) == 3
        assert first.done()  # queued before, so finished before
        assert first.result() != os.getpid()
        assert tracker.call(os.getpid) == first.result()  # one worker for the whole pipeline


def test_the_first_failure_is_raised_not_a_later_consequence() -> None:
    tracker = Tracker(background=True)
    tracker.submit(math.sqrt, -1)  # fails in the worker; nobody waits for it yet
    with pytest.raises(ValueError, match="math domain error"):
        tracker.call(operator.add, 1, 2)
    tracker.close()


def test_a_failure_nobody_waited_for_is_raised_on_close() -> None:
    tracker = Tracker(background=True)
    tracker.submit(math.sqrt, -1)
    with pytest.raises(ValueError, match="math domain error"):
        tracker.close()


def test_a_dead_worker_is_a_clear_error() -> None:
    tracker = Tracker(background=True)
    tracker.submit(os._exit, 3)
    with pytest.raises(UserError, match="tracking process stopped"):
        tracker.close()


def test_inline_runs_here_and_raises_at_once() -> None:
    tracker = Tracker(background=False)
    assert not tracker.background
    assert tracker.call(os.getpid) == os.getpid()
    with pytest.raises(ValueError):
        tracker.submit(math.sqrt, -1)
    tracker.close()


def test_the_worker_never_imports_scikit_learn_or_skops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker logs the exported file, draws the figures from plain arrays and leaves the gate's
    scoring to the pipeline's process: importing scikit-learn and skops there too was the longest
    step of `pipeline`. A spawned worker starts empty (a forked one would inherit pytest's imports),
    so what it holds at the end of a real pipeline (with a champion to download) is what it loaded."""
    from {{ cookiecutter.module_name }} import cli
    from {{ cookiecutter.module_name }}.training import tracking_worker

    seen: list[list[str]] = []
    close = Tracker.close

    def close_after_probe(tracker: Tracker) -> None:
        probe = "sorted(name for name in ('sklearn', 'skops') if name in __import__('sys').modules)"
        seen.append(tracker.call(eval, probe))
        close(tracker)

    path = write_config(tmp_path)
    assert main(["pipeline", "--config", str(path)]) == 0  # inline: a champion for the next to download
    monkeypatch.setattr(cli, "BACKGROUND_TRACKING", True)
    monkeypatch.setattr(tracking_worker, "START_METHOD", "spawn")
    monkeypatch.setattr(Tracker, "close", close_after_probe)
    assert main(["pipeline", "--config", str(path)]) == 0
    assert seen == [[]]


def test_a_failed_pipeline_reports_one_line_and_marks_its_run_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    path = write_config(tmp_path, model={"family": "linear", "params": {"nope": 1}})
    assert main(["pipeline", "--config", str(path)]) == 1
    assert "model.params.nope is not a parameter of" in capsys.readouterr().err
    project = load_project(path)
    mlflow.set_tracking_uri(project.tracking_uri)
    experiment = mlflow.get_experiment_by_name(project.config.tracking.experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert [run.info.status for run in runs] == ["FAILED"]


def test_a_result_comes_after_any_earlier_failure() -> None:
    tracker = Tracker(background=True)
    tracker.submit(math.sqrt, -1)
    later = tracker.submit(operator.add, 1, 2)
    with pytest.raises(ValueError, match="math domain error"):
        tracker.result(later)  # not 3: the earlier failure is the root cause
    tracker.settle()
    assert tracker.call(operator.add, 2, 2) == 4  # after settle(), a last call still runs
    tracker.close()


def fail_to_log(*_: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(("module", "call"), [("tracking", "log_training"), ("plots", "draw_figures")])
def test_a_failure_in_the_worker_is_reported_marks_the_run_failed_and_promotes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, call: str
) -> None:
    import importlib

    import mlflow

    from {{ cookiecutter.module_name }} import cli

    monkeypatch.setattr(cli, "BACKGROUND_TRACKING", True)
    target = importlib.import_module(f"{{ cookiecutter.module_name }}.{module}")
    monkeypatch.setattr(target, call, fail_to_log)  # the forked worker inherits it
    path = write_config(tmp_path)
    with pytest.raises(OSError, match="No space left on device"):
        main(["pipeline", "--config", str(path)])
    project = load_project(path)
    mlflow.set_tracking_uri(project.tracking_uri)
    experiment = mlflow.get_experiment_by_name(project.config.tracking.experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert [run.info.status for run in runs] == ["FAILED"]
    assert (project.candidate_dir / "model.json").is_file(), "the stages before it ran"
    assert not (project.models_dir / "model.json").exists(), "nothing was promoted to models/"
