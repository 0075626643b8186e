"""The background tracker: calls run in order in one worker process, and no failure goes unreported."""

from __future__ import annotations

import math
import operator
import os

import pytest

from {{ cookiecutter.module_name }}.errors import UserError
from {{ cookiecutter.module_name }}.tracking_worker import Tracker


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


def test_background_only_when_mlflow_is_not_loaded_yet() -> None:
    import mlflow  # noqa: F401  (this process has it: nothing to overlap)

    assert not Tracker().background
