"""Coalescing: the same call asked by many requests in one turn of the event loop, run once.

When a burst of requests arrives together (everyone at a meeting scanning at once), the event loop
starts their handlers in the same turn. A ``Coalescer`` collects what they ask until the turn ends
and runs one batch for all of them: one Redis MGET for their session lookups, one INSERT for their
check-ins. Each caller gets its own result, or the batch's exception. Nothing waits on a timer: a
lone request is sent at the end of the turn it was asked in, so it pays no latency.

Nothing is kept between turns: the batch runs while its callers wait for it, so there is no
in-process state for another process to miss.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """``await coalescer(item)``: the result for ``item`` of ``run_batch(items of this turn)``.

    ``run_batch`` returns one result per item, in order. It runs in a fresh context, so it never
    joins a transaction that happens to be open in the first caller's context.
    """

    def __init__(self, run_batch: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._run_batch = run_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) == 1:
            loop.call_soon(self._send, context=contextvars.Context())
        return await future

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))
        self._running.add(task)  # a reference, so the task is not collected half-way
        task.add_done_callback(self._running.discard)

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
