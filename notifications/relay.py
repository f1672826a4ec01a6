"""The relay: outbox events that are due become deliveries, and due deliveries go to the queue.

It runs every ``NOTIFY_POLL_SECONDS`` (an arq cron job, unique per tick across workers, or the
embedded loop), and running it twice at once is harmless: events are taken with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a delivery is unique per (event, recipient), and only one
worker can claim a delivery for sending. A reminder is not due before its ``due_at``
(``available_at``), so it is never sent early, and never twice however many workers run.

If the queue cannot take a batch (Redis is down), its deliveries are released and tried on the
next tick; a batch the queue took but lost (Redis restarted without its data) is handed out again
when its queue lease (``NOTIFY_QUEUE_LEASE_SECONDS``) runs out. Nothing is lost either way, and
nothing is sent twice: the claim decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from backend.config import Settings
from backend.subscriptions import deliveries
from backend.subscriptions.catalog import template_ids

from .delivery import now_utc

log = logging.getLogger("gongxin.notifications")

Dispatch = Callable[[Sequence[int]], Awaitable[None]]
Backlog = Callable[[], Awaitable[int]]
TICK_BUDGET_S = 0.8  # one tick stops expanding and handing out after this, the next goes on
EVENTS_PER_QUERY = 500
# Batches waiting in the queue beyond which a tick hands out nothing more: the queue never holds
# more than the workers take within a queue lease, so a batch is not handed out twice for being slow.
MAX_QUEUED_BATCHES = 32


@dataclass
class TickResult:
    events: int = 0
    handed_out: int = 0
    interrupted: int = 0
    dispatch_failed: bool = False


class Relay:
    """One tick at a time per process."""

    def __init__(self, *, settings: Settings, dispatch: Dispatch, backlog: Backlog | None = None) -> None:
        self.settings = settings
        self.dispatch = dispatch
        self.backlog = backlog
        self.templates = template_ids(settings)
        self._lock = asyncio.Lock()

    async def tick(self) -> TickResult:
        """Recover, expand, hand out; returns what it did (nothing if a tick is already running here)."""
        result = TickResult()
        if self._lock.locked():
            return result
        async with self._lock:
            s = self.settings
            deadline = time.monotonic() + TICK_BUDGET_S
            result.interrupted = await deliveries.recover_interrupted(
                now=now_utc(), lease=s.notify_send_lease_seconds
            )
            while time.monotonic() < deadline:
                n = await deliveries.expand_due_events(
                    now=now_utc(), templates=self.templates, limit=EVENTS_PER_QUERY
                )
                result.events += n
                if n < EVENTS_PER_QUERY:
                    break
            queued = await self.backlog() if self.backlog is not None else 0
            budget = s.notify_batch_size * max(0, MAX_QUEUED_BATCHES - queued)
            while time.monotonic() < deadline and result.handed_out < budget:
                ids = await deliveries.hand_out(
                    now=now_utc(), lease=s.notify_queue_lease_seconds, limit=s.notify_batch_size
                )
                if not ids:
                    break
                try:
                    await self.dispatch(ids)
                except Exception as exc:  # the queue is down: the next tick tries again
                    log.warning("notifications: could not queue %d deliveries (%s)", len(ids), exc)
                    await deliveries.release(ids)
                    result.dispatch_failed = True
                    break
                result.handed_out += len(ids)
        return result
