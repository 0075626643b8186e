"""Micro-batching for the skops runtime: concurrent requests scored together, in one model call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .runtime import Row, Scores

Job = tuple[list[Row], "asyncio.Future[Scores]"]


class MicroBatcher:
    """Queue requests; one task scores whatever is queued together, in a worker thread."""

    def __init__(self, score: Callable[[list[Row]], Scores], *, max_rows: int, wait_s: float) -> None:
        self.score = score
        self.max_rows = max_rows
        self.wait_s = wait_s
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.carry: Job | None = None  # the job that did not fit into the last batch

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def submit(self, rows: list[Row]) -> Scores:
        """Score these rows (at most max_rows) together with whatever else is waiting."""
        if self.task is None:
            raise RuntimeError("MicroBatcher.start() was not awaited — start it in the app's lifespan.")
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((rows, future))
        return await future

    async def _run(self) -> None:
        while True:
            jobs = [self.carry or await self.queue.get()]
            self.carry = None
            if self.wait_s and self.queue.empty():  # alone so far: give concurrent requests a moment
                await asyncio.sleep(self.wait_s)
            size = len(jobs[0][0])
            while not self.queue.empty():
                job = self.queue.get_nowait()
                if size + len(job[0]) > self.max_rows:
                    self.carry = job
                    break
                jobs.append(job)
                size += len(job[0])
            await self._score(jobs)

    async def _score(self, jobs: list[Job]) -> None:
        rows = [row for job_rows, _ in jobs for row in job_rows]
        try:
            scores = await asyncio.to_thread(self.score, rows)
        except Exception as exc:
            if len(jobs) == 1:
                _resolve(jobs[0][1], exc)
                return
            for job in jobs:  # find the culprit: each request alone, so a bad one fails alone
                await self._score([job])
            return
        start = 0
        for job_rows, future in jobs:
            _resolve(future, scores.slice(start, start + len(job_rows)))
            start += len(job_rows)


def _resolve(future: asyncio.Future[Scores], result: Scores | Exception) -> None:
    if future.done():  # the client went away; nobody waits for this answer
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
