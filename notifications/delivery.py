"""Sending claimed deliveries: render, send with the wechatpy client, decide what became of each.

The same code runs in the arq worker (``gongxin worker``) and in the embedded loop of a server
without Redis; only how delivery ids arrive differs.

What a WeChat answer means here (``backend/wechat/errors.py``):

* transient (-1, 45009/45011, timeouts, HTTP 5xx, connection errors, a token rejected twice):
  tried again after ``base * 2^(n-1)`` seconds, with jitter (a random 50-100 % of it, so that
  a burst of failures does not come back as a burst), capped; at ``NOTIFY_MAX_ATTEMPTS`` it goes
  to the dead letters. The client itself retries nothing here (``max_attempts=1``), except the
  one refetch of an expired token, so every retry is scheduled, recorded and counted.
* 43101 (no consent at WeChat): failed, and our count of the user's consents set to zero;
* 40003, 47003, 40037, 47001 and other refusals: failed for good, the consent given back;
* a payload that cannot fill its template: failed (``render.invalid``), nothing sent;
* the access-token store (Redis) unreachable: nothing was sent, so it is transient like -1.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from backend.config import Settings
from backend.subscriptions import deliveries
from backend.subscriptions.deliveries import Claimed, Dead, Failed, Outcome, Retry, Sent, Skipped
from backend.wechat.client import WeChatService
from backend.wechat.errors import SubscribeRefused, WeChatError

from . import templates
from .fields import RenderError

log = logging.getLogger("gongxin.notifications")


def now_utc() -> datetime:
    return datetime.now(UTC)


def build_wechat(settings: Settings) -> WeChatService:
    """The worker's WeChat client: no retries of its own (they are scheduled here), enough threads."""
    return WeChatService.create(
        appid=settings.wechat_appid,
        secret=settings.wechat_secret.get_secret_value(),
        api_base=settings.wechat_api_base,
        redis_url=settings.redis_url,
        timeout=settings.wechat_timeout_seconds,
        max_attempts=1,
        max_workers=settings.notify_concurrency,
    )


CHUNKS_IN_FLIGHT = 3


@dataclass
class Summary:
    """What one call of ``deliver`` did, by outcome."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        if n:
            self.counts[name] = self.counts.get(name, 0) + n


class Deliverer:
    """Claims, renders, sends and records deliveries, ``notify_concurrency`` at a time per chunk."""

    def __init__(
        self,
        *,
        settings: Settings,
        wechat: WeChatService,
        clock: Callable[[], datetime] = now_utc,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.wechat = wechat
        self.clock = clock
        self.jitter = jitter
        # Chunks of a process in flight at once: while one chunk's results are being written,
        # another's messages are on their way. The thread pool bounds the sends themselves.
        self._chunks = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
        self._in_flight: set[asyncio.Future[None]] = set()

    async def deliver(self, ids: Sequence[int]) -> Summary:
        """Send every delivery of ``ids`` that is still pending and due, in chunks of the concurrency.

        Each chunk is claimed just before it is sent, so a worker that dies leaves at most its
        chunks in flight in ``sending`` (the window README.md describes), not the whole batch. A
        chunk runs in a task of its own that cancelling the job does not stop: once claimed, its
        messages are sent and their outcomes recorded even when the job is cancelled (arq stopping
        because Redis went away, or a shutdown); ``drain`` waits for those tasks.
        """
        summary = Summary()
        step = self.settings.notify_concurrency
        for start in range(0, len(ids), step):
            async with self._chunks:
                task = asyncio.ensure_future(self._chunk(ids[start : start + step], summary))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                await asyncio.shield(task)
        return summary

    async def drain(self) -> None:
        """Wait until no chunk is in flight."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def _chunk(self, ids: Sequence[int], summary: Summary) -> None:
        claimed = await deliveries.claim(ids=ids, now=self.clock())
        for reason, n in claimed.skipped.items():
            summary.add(f"skipped:{reason}", n)
        if not claimed.to_send:
            return
        outcomes = await asyncio.gather(*(self._send(c) for c in claimed.to_send))
        pairs = list(zip(claimed.to_send, outcomes, strict=True))
        await deliveries.finish(outcomes=pairs, now=self.clock())
        for outcome in outcomes:
            summary.add(_label(outcome))

    async def _send(self, claimed: Claimed) -> Outcome:
        now = self.clock()
        if templates.too_late(claimed.kind, claimed.payload, now):
            return Skipped("reminder.too_late")
        try:
            data, page = templates.render(claimed.kind, claimed.payload)
        except RenderError as exc:
            log.warning("delivery %s (%s): cannot render: %s", claimed.id, claimed.kind, exc)
            return Failed("render.invalid", str(exc))
        try:
            msgid = await self.wechat.send_subscribe_message(
                openid=claimed.openid,
                template_id=claimed.template_id,
                data=data,
                page=page,
                miniprogram_state=self.settings.notify_miniprogram_state,
            )
        except WeChatError as exc:
            return self._after_failure(claimed, exc)
        except RedisError as exc:  # the shared access-token store is down: nothing was sent
            return self._after_failure(
                claimed, WeChatError(details={"reason": f"token store: {type(exc).__name__}"}, transient=True)
            )
        except Exception as exc:  # a bug, not WeChat: keep it for an admin rather than lose it
            log.exception("delivery %s: unexpected error", claimed.id)
            return Dead("delivery.error", type(exc).__name__)
        return Sent(str(msgid))

    def _after_failure(self, claimed: Claimed, exc: WeChatError) -> Outcome:
        error = _describe(exc)
        if isinstance(exc, SubscribeRefused):
            return Failed(exc.code, error, consent="zero")
        if not exc.transient:
            return Failed(exc.code, error)
        if claimed.attempts >= self.settings.notify_max_attempts:
            log.warning(
                "delivery %s: %s after %d attempts, dead-lettered", claimed.id, error, claimed.attempts
            )
            return Dead(exc.code, error)
        return Retry(exc.code, error, self.clock() + timedelta(seconds=self.backoff(claimed.attempts)))

    def backoff(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt``: exponential, capped, 50-100 % of it at random."""
        s = self.settings
        delay = min(s.notify_retry_max_seconds, s.notify_retry_base_seconds * 2 ** (attempt - 1))
        return delay * (0.5 + 0.5 * self.jitter())


def _describe(exc: WeChatError) -> str:
    if exc.errcode is not None:
        return f"errcode {exc.errcode}: {exc.errmsg or ''}".strip()
    return f"{exc.code}: {exc.details}" if exc.details else exc.code


def _label(outcome: Outcome) -> str:
    if isinstance(outcome, (Sent,)):
        return "sent"
    return f"{type(outcome).__name__.lower()}:{outcome.reason}"
