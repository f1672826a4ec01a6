"""Coalescer: batches of what is asked together, and group commit with ``max_in_flight``;
SingleFlight: one load for the callers that miss a value together."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from backend.batching import Coalescer, SingleFlight


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


# --- SingleFlight ---------------------------------------------------------------------------------


class Loader:
    """A load that counts its calls and waits until released."""

    def __init__(self, value: str = "v") -> None:
        self.calls = 0
        self.value = value
        self.release = asyncio.Event()
        self.fail = False

    async def __call__(self) -> str:
        self.calls += 1
        number = self.calls
        await self.release.wait()
        if self.fail:
            raise RuntimeError("load failed")
        return f"{self.value}{number}"


async def test_callers_that_miss_together_share_one_load():
    flight: SingleFlight[str, str] = SingleFlight()
    load = Loader()
    callers = [asyncio.ensure_future(flight("k", load)) for _ in range(50)]
    await _turns(3)
    load.release.set()
    assert await asyncio.gather(*callers) == ["v1"] * 50
    assert load.calls == 1


async def test_a_key_is_loaded_again_once_its_load_has_landed_and_keys_do_not_share():
    flight: SingleFlight[str, str] = SingleFlight()
    load = Loader()
    load.release.set()
    assert await flight("k", load) == "v1"
    assert await flight("k", load) == "v2"
    other = Loader("o")
    other.release.set()
    assert await flight("other", other) == "o1"


async def test_a_failed_load_fails_every_caller_and_the_next_call_tries_again():
    flight: SingleFlight[str, str] = SingleFlight()
    load = Loader()
    load.fail = True
    callers = [asyncio.ensure_future(flight("k", load)) for _ in range(3)]
    await _turns(3)
    load.release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError] * 3
    load.fail = False
    assert await flight("k", load) == "v2"


async def test_a_caller_that_goes_away_does_not_cancel_the_load_for_the_others():
    flight: SingleFlight[str, str] = SingleFlight()
    load = Loader()
    leaving, staying = asyncio.ensure_future(flight("k", load)), asyncio.ensure_future(flight("k", load))
    await _turns(3)
    leaving.cancel()
    await _turns(3)
    load.release.set()
    assert await staying == "v1"
    assert leaving.cancelled()


async def test_after_forget_callers_start_a_load_of_their_own_and_earlier_ones_still_get_theirs():
    flight: SingleFlight[str, str] = SingleFlight()
    old, new, unused = Loader("old"), Loader("new"), Loader("unused")
    before = asyncio.ensure_future(flight("k", old))
    await _turns(3)
    flight.forget()  # e.g. the organization changed while its answer was being worked out
    after = asyncio.ensure_future(flight("k", new))
    await _turns(3)
    old.release.set()
    assert await before == "old1"
    # The earlier load landing did not remove the newer one: a caller now joins the newer.
    joining = asyncio.ensure_future(flight("k", unused))
    await _turns(3)
    new.release.set()
    assert await after == "new1"
    assert unused.calls == 0  # it joined; its own load (never released) would hang it
    assert await asyncio.wait_for(joining, 1) == "new1"
    assert (old.calls, new.calls) == (1, 1)


async def test_the_load_runs_outside_the_first_caller_s_context():
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="fresh")
    marker.set("caller's")
    flight: SingleFlight[str, str] = SingleFlight()

    async def load() -> str:
        return marker.get()

    assert await flight("k", load) == "fresh"
