"""Watching the event loop's turns while something runs: how much of the loop's own CPU a step took.

A ticker task wakes every few milliseconds and notes the CPU time the loop's thread has used since
its previous turn (``time.thread_time``). Work done on the loop shows there in full; work done in a
worker thread, and time spent waiting for the GIL, the database or a busy machine, does not. So the
longest step is the same on a quiet machine and on a loaded one, unlike wall-clock lags, and a test
can hold it to a bound without flaking.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType


class LoopWatch:
    """``async with LoopWatch() as watch: ...``; then ``watch.longest_step`` (CPU seconds) and
    ``watch.turns`` (how often the loop came back to the ticker)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.longest_step = 0.0
        self.longest_wait = 0.0
        self.turns = 0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        cpu, wall = time.thread_time(), loop.time()
        while True:
            await asyncio.sleep(self.interval)
            now_cpu, now_wall = time.thread_time(), loop.time()
            self.longest_step = max(self.longest_step, now_cpu - cpu)
            self.longest_wait = max(self.longest_wait, now_wall - wall - self.interval)
            self.turns += 1
            cpu, wall = now_cpu, now_wall

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)  # the ticker's first turn notes where it starts
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
