"""Run the MLflow calls of `pipeline` in a second process, in order, while this one keeps working.

Importing MLflow and opening its SQLite store costs about two seconds before anything is logged.
From the command line, `pipeline` forks a worker at once: it imports MLflow, opens the store and
creates the run while the data stage runs, then logs each stage's results as they are handed over
and consults the registry for the promotion gate while the figures are drawn. The worker never
imports scikit-learn or skops (that took it 1.4 s): it logs the exported model file
(logged_model.py), and everything that needs a fitted model runs in the pipeline's own process.
The run's id and the registry's answer are the only results the pipeline waits for. A failure in
the worker is raised here, at the latest when the pipeline ends: nothing is logged silently or lost.

Called in-process (tests, a notebook) the same calls run inline, in the same order.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from typing import Any

from ..errors import UserError

# Forked before the pipeline imports anything heavy (Linux); spawned elsewhere.
START_METHOD = "fork" if sys.platform == "linux" else "spawn"


def _start_worker() -> None:
    # The worker imports MLflow and pandas: collect rarely (see cli.run), and skip
    # the final collection over all of that when the process exits (about a second).
    gc.set_threshold(50_000, 50, 50)
    atexit.register(gc.freeze)


class Tracker:
    """Calls functions in submission order: in one worker process (background) or right here."""

    def __init__(self, background: bool) -> None:
        self._pool = (
            ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context(START_METHOD),
                initializer=_start_worker,
            )
            if background
            else None
        )
        self._pending: list[Future[Any]] = []

    @property
    def background(self) -> bool:
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue fn(*args) (inline: run it now, raising at once); a worker's failure is raised by
        call() or close(), in submission order, so the first error reported is the root cause."""
        if self._pool is None:
            future: Future[Any] = Future()
            future.set_result(fn(*args))
            return future
        future = self._pool.submit(fn, *args)
        self._pending.append(future)
        return future

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(*args) after everything queued before it; return its result."""
        return self.result(self.submit(fn, *args))

    def result(self, future: Future[Any]) -> Any:
        """A queued call's result; a failure of anything queued before it is raised first (once)."""
        if future in self._pending:
            while self._pending:
                earlier = self._pending.pop(0)
                result(earlier)
                if earlier is future:
                    break
        return result(future)

    def settle(self) -> None:
        """Wait for every queued call, ignoring failures (the caller is already reporting one)."""
        for future in self._pending:
            with suppress(Exception):
                future.result()
        self._pending.clear()

    def wait(self) -> None:
        """Wait for every queued call; raise the first failure."""
        try:
            for future in self._pending:
                result(future)
        finally:
            self._pending.clear()

    def close(self) -> None:
        """Wait for every queued call (raising the first failure), then stop the worker."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.close()
        elif self._pool is not None:  # already failing: do not wait for more MLflow work
            self._pool.shutdown(wait=True, cancel_futures=True)


def result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except BrokenProcessPool:
        raise UserError(
            "the MLflow tracking process stopped unexpectedly (out of memory?) — run the command again."
        ) from None
