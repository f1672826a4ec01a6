"""`gongxin worker`: the arq worker that delivers notifications, kept alive across Redis outages.

arq runs two functions: ``relay`` (a cron job every second, unique per tick across workers, see
relay.py) and ``deliver`` (a batch of delivery ids). arq's worker stops when Redis goes away, so
``run`` starts it again, with a growing pause, until Redis answers: meanwhile events wait in the
outbox and deliveries in the database, and delivery resumes by itself.

Without REDIS_URL it runs the embedded loop instead (embedded.py), with the same relay, rendering,
sending and bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from collections.abc import Sequence
from typing import Any

from arq import cron, func
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

from backend.config import Settings, load_settings
from backend.db import close_db, init_db

from .delivery import Deliverer, build_wechat
from .embedded import EmbeddedWorker
from .relay import Relay

log = logging.getLogger("gongxin.notifications")

QUEUE = "gongxin:notifications"
SHUTDOWN_GRACE_S = 20  # on SIGTERM, jobs in flight get this long to finish their sends
RESTART_DELAYS_S = (0.5, 1, 2, 5)


async def deliver(ctx: dict[str, Any], ids: list[int]) -> dict[str, int]:
    """arq job: send a batch of deliveries."""
    return (await ctx["deliverer"].deliver(ids)).counts


async def relay(ctx: dict[str, Any]) -> None:
    """arq cron job: expand due outbox events, queue due deliveries, recover interrupted sends."""
    await ctx["relay"].tick()


def worker_options(settings: Settings, *, arq_redis: RedisSettings | None = None) -> dict[str, Any]:
    """The arq Worker's keyword arguments for these settings."""
    assert settings.redis_url, "the arq worker needs REDIS_URL"
    redis_settings = arq_redis or RedisSettings.from_dsn(settings.redis_url)
    # One attempt to connect per start: `run` does the waiting, with the API unaffected meanwhile.
    redis_settings.conn_retries = 0
    return {
        "functions": [func(deliver, name="deliver", max_tries=3)],
        "cron_jobs": [
            cron(relay, name="relay", second=set(range(60)), run_at_startup=True, keep_result=10, timeout=60)
        ],
        "redis_settings": redis_settings,
        "queue_name": QUEUE,
        "max_jobs": 8,
        "job_timeout": 300,
        "keep_result": 0,
        "poll_delay": 0.1,
        "handle_signals": False,
        "health_check_interval": 60,
    }


class ArqWorkerProcess:
    """One worker process: the database, the WeChat client, and arq's Worker, restarted as needed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = asyncio.Event()
        self.worker: Worker | None = None
        self.wechat = build_wechat(settings)
        self.deliverer = Deliverer(settings=settings, wechat=self.wechat)

    async def _on_startup(self, ctx: dict[str, Any]) -> None:
        pool: ArqRedis = ctx["redis"]

        async def dispatch(ids: Sequence[int]) -> None:
            await pool.enqueue_job(
                "deliver", list(ids), _job_id=f"deliver:{ids[0]}:{secrets.token_hex(6)}", _queue_name=QUEUE
            )

        async def backlog() -> int:
            return int(await pool.zcard(QUEUE))

        ctx["deliverer"] = self.deliverer
        ctx["relay"] = Relay(settings=self.settings, dispatch=dispatch, backlog=backlog)

    async def run(self) -> None:
        """Run arq's worker until asked to stop; start it again whenever Redis drops it."""
        failures = 0
        while not self.stopping.is_set():
            self.worker = Worker(**worker_options(self.settings), on_startup=self._on_startup)
            started = asyncio.get_running_loop().time()
            try:
                await self.worker.async_run()
            except asyncio.CancelledError:
                if not self.stopping.is_set():
                    raise
            except Exception as exc:
                if asyncio.get_running_loop().time() - started > 30:
                    failures = 0
                delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
                failures += 1
                log.warning(
                    "notifications worker: %s (%s); starting again in %.1fs", type(exc).__name__, exc, delay
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
            finally:
                with contextlib.suppress(Exception):
                    await self.worker.close()
        # Chunks already claimed finish their sends and record them, whatever happened to arq.
        await self.deliverer.drain()

    def stop(self, signum: int) -> None:
        """Stop picking jobs; give the jobs in flight SHUTDOWN_GRACE_S to finish, then stop."""
        self.stopping.set()
        if self.worker is not None and self.worker.main_task is not None:
            self.worker._job_completion_wait = SHUTDOWN_GRACE_S
            self.worker.handle_sig_wait_for_completion(signal.Signals(signum))


async def serve(settings: Settings) -> None:
    """Run the worker of these settings until SIGINT or SIGTERM."""
    await init_db(settings.database_url, pool_max=max(4, settings.db_pool_max))
    loop = asyncio.get_running_loop()
    try:
        if settings.redis_url:
            process = ArqWorkerProcess(settings)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, process.stop, sig)
            log.info("notifications worker: arq on %s", settings.redis_url.rsplit("@", 1)[-1])
            try:
                await process.run()
            finally:
                process.wechat.close()
        else:
            embedded = EmbeddedWorker(settings=settings)
            done = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, done.set)
            log.info("notifications worker: embedded loop (no REDIS_URL)")
            embedded.start()
            await done.wait()
            await embedded.stop()
    finally:
        await close_db()


def main(settings: Settings | None = None) -> None:
    """Entry point of `gongxin worker` (and of the process `gongxin serve` starts beside itself)."""
    settings = settings or load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("arq").setLevel(logging.WARNING)
    # The event loop shares the GIL with the WeChat client's threads (wechatpy is synchronous). Each
    # time the loop gives the GIL up for a system call it waits, by default, up to 5 ms to get it
    # back from a thread running Python: a switch every 1 ms keeps the loop (claims, results, the
    # queue) from starving behind the threads (bench/README.md, "notify").
    sys.setswitchinterval(0.001)
    asyncio.run(serve(settings))
