"""Coalescer: batches of what is asked together, and group commit with ``max_in_flight``."""

from __future__ import annotations

import asyncio

import pytest

from backend.batching import Coalescer


class Recorder:
    """A run_batch that records each batch and can be held until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_running = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail_next = False

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.release.wait()
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("batch failed")
            return [item * 10 for item in items]
        finally:
            self.running -= 1


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _held(max_in_flight: int | None) -> tuple[Recorder, Coalescer[int, int]]:
    """A coalescer whose batches wait, once on their way, until the test sets ``recorder.release``."""
    recorder = Recorder()
    recorder.release.clear()
    return recorder, Coalescer(recorder, max_in_flight=max_in_flight)


async def _ask_each_in_a_turn_of_its_own(
    coalescer: Coalescer[int, int], items: list[int]
) -> list[asyncio.Future[int]]:
    calls = []
    for item in items:
        calls.append(asyncio.ensure_future(coalescer(item)))
        await _turns(4)
    return calls


async def test_a_lone_call_runs_at_once_as_a_batch_of_one():
    recorder = Recorder()
    coalescer = Coalescer(recorder, max_in_flight=1)
    assert await coalescer(7) == 70
    assert recorder.batches == [[7]]


async def test_calls_of_one_turn_share_a_batch_without_a_limit():
    recorder = Recorder()
    coalescer = Coalescer(recorder)
    assert await asyncio.gather(*(coalescer(i) for i in range(5))) == [0, 10, 20, 30, 40]
    assert recorder.batches == [[0, 1, 2, 3, 4]]


async def test_calls_made_while_a_batch_is_on_its_way_leave_together_when_it_returns():
    recorder, coalescer = _held(max_in_flight=1)
    (first,) = await _ask_each_in_a_turn_of_its_own(coalescer, [1])
    assert recorder.batches == [[1]]  # on its way, held
    later = await _ask_each_in_a_turn_of_its_own(coalescer, [2, 3, 4])
    assert recorder.batches == [[1]]  # nothing more left while the first is out
    recorder.release.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert recorder.batches == [[1], [2, 3, 4]]
    assert recorder.most_running == 1


async def test_without_a_limit_each_turn_sends_its_own_batch():
    recorder, coalescer = _held(max_in_flight=None)
    calls = await _ask_each_in_a_turn_of_its_own(coalescer, [1, 2, 3])
    assert recorder.batches == [[1], [2], [3]]
    assert recorder.most_running == 3
    recorder.release.set()
    assert await asyncio.gather(*calls) == [10, 20, 30]


async def test_never_more_batches_on_their_way_than_the_limit():
    recorder, coalescer = _held(max_in_flight=2)
    calls = await _ask_each_in_a_turn_of_its_own(coalescer, list(range(6)))
    assert recorder.batches == [[0], [1]]
    recorder.release.set()
    assert await asyncio.gather(*calls) == [0, 10, 20, 30, 40, 50]
    assert recorder.most_running == 2
    assert sorted(item for batch in recorder.batches for item in batch) == list(range(6))


async def test_a_failed_batch_fails_its_callers_and_frees_its_place():
    recorder, coalescer = _held(max_in_flight=1)
    recorder.fail_next = True
    failing, waiting = await _ask_each_in_a_turn_of_its_own(coalescer, [1, 2])
    recorder.release.set()
    with pytest.raises(RuntimeError, match="batch failed"):
        await failing
    assert await waiting == 20
    assert await coalescer(3) == 30
    assert recorder.batches == [[1], [2], [3]]


async def test_a_caller_that_goes_away_does_not_hold_up_the_next_batch():
    recorder, coalescer = _held(max_in_flight=1)
    (gone,) = await _ask_each_in_a_turn_of_its_own(coalescer, [1])
    gone.cancel()
    (waiting,) = await _ask_each_in_a_turn_of_its_own(coalescer, [2])
    recorder.release.set()
    assert await waiting == 20
    assert gone.cancelled()


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError):
        Coalescer(Recorder(), max_in_flight=0)
