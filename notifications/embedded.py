"""Delivery without Redis: the relay and the deliverer in a loop inside one process.

For the embedded default (SQLite, no Redis), where `gongxin serve` runs it inside the server
process and `gongxin worker` runs it on its own. The relay, rendering, sending and bookkeeping are
the ones the arq worker uses; only the hand-over differs (a task here, a Redis queue there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from backend.config import Settings
from backend.wechat.client import WeChatService

from .delivery import Deliverer, build_wechat
from .relay import Relay

log = logging.getLogger("gongxin.notifications")


class EmbeddedWorker:
    """Runs ``Relay.tick`` every poll interval and delivers what it hands out in tasks of its own."""

    def __init__(self, *, settings: Settings, wechat: WeChatService | None = None) -> None:
        self.settings = settings
        self.wechat = wechat or build_wechat(settings)
        self._owns_wechat = wechat is None
        self.deliverer = Deliverer(settings=settings, wechat=self.wechat)
        self.relay = Relay(settings=settings, dispatch=self._dispatch, backlog=self._backlog)
        self._jobs: set[asyncio.Task[object]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def _dispatch(self, ids: Sequence[int]) -> None:
        task = asyncio.create_task(self.deliverer.deliver(list(ids)))
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def _backlog(self) -> int:
        return len(self._jobs)

    async def run_once(self) -> None:
        """One tick, then wait for the deliveries it handed out (tests, `gongxin worker --once`)."""
        await self.relay.tick()
        await self.drain()

    async def drain(self) -> None:
        """Wait for the deliveries in flight."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs), return_exceptions=True)

    async def run(self) -> None:
        """Tick until cancelled; a failing tick (database down) is logged and the loop goes on."""
        while True:
            try:
                await self.relay.tick()
            except Exception:
                log.exception("notifications: relay tick failed")
            await asyncio.sleep(self.settings.notify_poll_seconds)

    def start(self) -> None:
        """Run in the background of the current event loop."""
        self._loop_task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        """Stop ticking, let the messages in flight finish, release the WeChat client."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self.drain()
        if self._owns_wechat:
            self.wechat.close()
