"""Micro-batching (the skops runtime): requests are gathered, each gets its own rows back, a failure stays alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from {{ cookiecutter.module_name }}.serving.batching import MicroBatcher
from {{ cookiecutter.module_name }}.serving.runtime import Scores


def run_concurrently(batcher: MicroBatcher, requests: list[list[dict]]) -> list[Scores | BaseException]:
    async def scenario() -> list[Scores | BaseException]:
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(rows) for rows in requests), return_exceptions=True)
        finally:
            await batcher.stop()

    return asyncio.run(scenario())


def doubling(calls: list[int]) -> Callable[[list[dict]], Scores]:
    def score(rows: list[dict]) -> Scores:
        calls.append(len(rows))
        if any(row["x"] < 0 for row in rows):
            raise ValueError("negative x")
        return Scores([row["x"] * 2 for row in rows])

    return score


def test_concurrent_requests_share_model_calls_and_get_their_own_rows() -> None:
    calls: list[int] = []
    batcher = MicroBatcher(doubling(calls), max_rows=1000, wait_s=0.005)
    results = run_concurrently(batcher, [[{"x": i}] for i in range(100)] + [[{"x": 1000}, {"x": 1001}]])
    assert [result.predictions for result in results[:100]] == [[2 * i] for i in range(100)]
    assert results[100].predictions == [2000, 2002]
    assert len(calls) < 10, f"100 concurrent requests took {len(calls)} model calls"


def test_batches_never_exceed_max_rows() -> None:
    calls: list[int] = []
    batcher = MicroBatcher(doubling(calls), max_rows=8, wait_s=0.001)
    results = run_concurrently(batcher, [[{"x": i}, {"x": i}, {"x": i}] for i in range(10)])
    assert all(result.predictions == [2 * i] * 3 for i, result in enumerate(results))
    assert max(calls) <= 8


def test_a_failing_request_does_not_fail_its_neighbours() -> None:
    batcher = MicroBatcher(doubling([]), max_rows=1000, wait_s=0.005)
    results = run_concurrently(batcher, [[{"x": 1}], [{"x": -1}], [{"x": 3}]])
    assert results[0].predictions == [2]
    assert isinstance(results[1], ValueError)
    assert results[2].predictions == [6]


def test_submit_before_start_says_what_to_do() -> None:
    batcher = MicroBatcher(doubling([]), max_rows=10, wait_s=0)
    with pytest.raises(RuntimeError, match="lifespan"):
        asyncio.run(batcher.submit([{"x": 1}]))
