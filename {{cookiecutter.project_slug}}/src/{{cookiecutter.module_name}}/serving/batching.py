"""Micro-batching: score concurrent requests together in one model call.

Two batchers with one interface (`start`, `submit`, `stop`), chosen by the runtime's speed:
- MicroBatcher, for the scikit-learn Pipeline (skops runtime): a call costs milliseconds however
  few rows it scores, so requests are gathered and scored at once, off the event loop: whatever
  queued up while the previous call ran goes into the next one. The extra wait is adaptive and
  bounded: the batcher waits only when fewer requests are queued than were scored together last
  time (more are probably on their way), and never longer than `wait_s` or than a model call
  takes — so a lone client is never slowed down.
- InlineBatcher, for ONNX Runtime: a call costs tens of microseconds, less than handing the rows
  to a thread and waking the event loop again, so the rows are scored on the event loop. Requests
  that arrive in the same turn of the loop are still scored together, without any wait.

Either way each request gets back its own rows' answers, and a request whose rows break the model
fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .runtime import Row, Scores

ScoreFn = Callable[[list[Row]], Scores]


@dataclass
class Job:
    rows: list[Row]
    future: asyncio.Future[Scores] = field(repr=False)


class MicroBatcher:
    """Queue requests; one background task scores them in batches on a single worker thread."""

    def __init__(
        self, score: ScoreFn, *, max_rows: int, wait_s: float, on_batch: Callable[[int], None] | None = None
    ) -> None:
        self.score = score
        self.max_rows = max_rows
        self.wait_s = wait_s
        self.on_batch = on_batch
        self._queue: asyncio.Queue[Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._carry: Job | None = None
        self._last_jobs = 1  # requests scored together in the last call
        self._call_s = 0.0  # how long the last model call took
        # One thread: batches run one after another, and the model is never called concurrently.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, rows: list[Row]) -> Scores:
        """Score these rows (at most max_rows) together with whatever else is waiting."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not awaited — start it in the app's lifespan.")
        job = Job(rows, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(job)
        return await job.future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            jobs = [self._carry or await self._queue.get()]
            self._carry = None
            self._gather(jobs)
            if self.wait_s and len(jobs) < self._last_jobs and self._carry is None:
                await asyncio.sleep(min(self.wait_s, self._call_s))
                self._gather(jobs)
            self._last_jobs = len(jobs)
            await self._score_jobs(jobs)

    def _gather(self, jobs: list[Job]) -> None:
        """Move waiting jobs into this batch while they fit; keep the first that does not."""
        assert self._queue is not None
        size = _rows(jobs)
        while self._carry is None and not self._queue.empty():
            job = self._queue.get_nowait()
            if size + len(job.rows) > self.max_rows:
                self._carry = job
                return
            jobs.append(job)
            size += len(job.rows)

    async def _score_jobs(self, jobs: list[Job]) -> None:
        loop = asyncio.get_running_loop()
        rows = [row for job in jobs for row in job.rows]
        if self.on_batch is not None:
            self.on_batch(len(rows))
        started = loop.time()
        try:
            scores = await loop.run_in_executor(self._executor, self.score, rows)
        except Exception as exc:
            if len(jobs) == 1:
                _resolve(jobs[0], exception=exc)
                return
            for job in jobs:  # find the culprit: score each request alone
                await self._score_jobs([job])
            return
        self._call_s = loop.time() - started
        _resolve_all(jobs, scores)


class InlineBatcher:
    """Score on the event loop, together with the requests that arrived in the same turn of it."""

    def __init__(
        self, score: ScoreFn, *, max_rows: int, on_batch: Callable[[int], None] | None = None
    ) -> None:
        self.score = score
        self.max_rows = max_rows
        self.on_batch = on_batch
        self._jobs: list[Job] = []
        self._started = False

    async def start(self) -> None:
        self._started = True

    async def stop(self) -> None:
        self._started = False

    async def submit(self, rows: list[Row]) -> Scores:
        """Score these rows (at most max_rows) together with whatever else arrived this turn."""
        if not self._started:
            raise RuntimeError("InlineBatcher.start() was not awaited — start it in the app's lifespan.")
        loop = asyncio.get_running_loop()
        job = Job(rows, loop.create_future())
        self._jobs.append(job)
        if len(self._jobs) == 1:
            # Requests already read from their sockets run first: they join this batch.
            loop.call_soon(self._score_waiting)
        return await job.future

    def _score_waiting(self) -> None:
        jobs, self._jobs = self._jobs, []
        batch: list[Job] = []
        size = 0
        for job in jobs:
            if batch and size + len(job.rows) > self.max_rows:
                self._score_jobs(batch)
                batch, size = [], 0
            batch.append(job)
            size += len(job.rows)
        self._score_jobs(batch)

    def _score_jobs(self, jobs: list[Job]) -> None:
        rows = jobs[0].rows if len(jobs) == 1 else [row for job in jobs for row in job.rows]
        if self.on_batch is not None:
            self.on_batch(len(rows))
        try:
            scores = self.score(rows)
        except Exception as exc:
            if len(jobs) == 1:
                _resolve(jobs[0], exception=exc)
                return
            for job in jobs:  # find the culprit: score each request alone
                self._score_jobs([job])
            return
        _resolve_all(jobs, scores)


def _resolve_all(jobs: list[Job], scores: Scores) -> None:
    """Give each request its own rows' answers."""
    if len(jobs) == 1:
        _resolve(jobs[0], scores)
        return
    start = 0
    for job in jobs:
        _resolve(job, scores.slice(start, start + len(job.rows)))
        start += len(job.rows)


def _rows(jobs: list[Job]) -> int:
    return sum(len(job.rows) for job in jobs)


def _resolve(job: Job, scores: Scores | None = None, exception: Exception | None = None) -> None:
    if job.future.done():  # the client went away; nobody waits for this answer
        return
    if exception is not None:
        job.future.set_exception(exception)
    else:
        job.future.set_result(scores)
