"""Coalescing: the same call asked by many requests at once, run as one batch.

When a burst of requests arrives together (everyone at a meeting scanning at once), the event loop
starts their handlers in the same turn. A ``Coalescer`` collects what they ask until the turn ends
and runs one batch for all of them: one Redis MGET for their session lookups, one INSERT for their
check-ins. Each caller gets its own result, or the batch's exception. Nothing waits on a timer: a
lone request is sent at the end of the turn it was asked in, so it pays no latency.

``max_in_flight`` turns this into group commit: while that many batches are on their way, what is
asked meanwhile waits and leaves as one batch when one of them comes back. Under load the batches
grow with the load instead of staying as small as one loop turn happens to be (in a 20,000-member
burst, 3 check-ins a statement became about 25, and fewer database connections compete with the
server for CPU; bench/README.md has the figures). A lone request still leaves at once.

Nothing is kept between batches but the callers waiting for them, so there is no in-process state
for another process to miss.

``SingleFlight`` is the same idea for one value: the requests that miss it together wait for one
load of it instead of each loading it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Key = TypeVar("Key", bound=Hashable)
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """``await coalescer(item)``: the result for ``item`` of ``run_batch(items asked together)``.

    ``run_batch`` returns one result per item, in order. It runs in a fresh context, so it never
    joins a transaction that happens to be open in the first caller's context. ``max_in_flight``:
    at most that many batches at once (None: one per loop turn, however many are still running).
    """

    def __init__(
        self, run_batch: Callable[[list[Item]], Awaitable[list[Result]]], *, max_in_flight: int | None = None
    ) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._run_batch = run_batch
        self._max_in_flight = max_in_flight
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        """Send what is pending at the end of this turn, unless enough batches are on their way:
        then the next batch leaves when one of them comes back, with everything asked meanwhile."""
        if self._scheduled or not self._pending:
            return
        if self._max_in_flight is not None and len(self._running) >= self._max_in_flight:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._send, context=contextvars.Context())

    def _send(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))
        self._running.add(task)  # a reference, so the task is not collected half-way
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._schedule()

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run_batch([item for item, _ in batch])
        except Exception as exc:  # every caller fails as its own call would have
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a caller that went away (client disconnected) is skipped
                future.set_result(result)


class SingleFlight(Generic[Key, Result]):
    """``await flight(key, load)``: one ``load()`` at a time per key; callers asking meanwhile share it.

    For a value many requests miss at the same moment (a hot QR code's answer when its second
    turns, an activity's rules when a burst of scans begins): without it, each of them would do the
    same work, all at once. Like the coalescer's batches, ``load`` runs in a fresh context, so it
    never joins a transaction that happens to be open in the first caller's, and a caller that goes
    away (client disconnected) does not cancel it for the others. Only the calls in flight are kept.
    """

    def __init__(self) -> None:
        self._loading: dict[Key, asyncio.Task[Result]] = {}

    async def __call__(self, key: Key, load: Callable[[], Awaitable[Result]]) -> Result:
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(_awaited(load), context=contextvars.Context())
            self._loading[key] = task
            task.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(task)

    def forget(self) -> None:
        """Callers from now on start their own load (what is in flight may predate a change); the
        callers already waiting still get theirs."""
        self._loading = {}

    def _landed(self, key: Key, task: asyncio.Task[Result]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled():
            task.exception()  # retrieved: every caller that waited got it; none left, nothing to log


async def _awaited(load: Callable[[], Awaitable[Result]]) -> Result:
    return await load()
