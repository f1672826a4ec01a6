"""Running the server: Sanic's worker manager, plus the WeChat emulator in development.

The main process holds the listening socket and runs the workers; a worker that dies is replaced
(miniprogram_api/workers.py), and if workers keep dying the command exits with status 1 for its
supervisor. Requests are read by ``DeadlineHttpProtocol`` (a deadline for a whole request).
"""

from __future__ import annotations

import gc
import logging
from functools import partial

from sanic import Sanic
from sanic.worker.loader import AppLoader

from .config import Settings, listening_origin, load_settings

log = logging.getLogger("gongxin.serve")


def _app_factory() -> Sanic:
    # Each worker process builds its app from the environment, as every machine in production does.
    from miniprogram_api.app import create_app

    settings = load_settings()
    app = create_app(settings)
    app.after_server_start(freeze_startup_objects)
    _checkpoint_beside(app, settings)
    if settings.runs_notifications_with_server:
        _deliver_notifications_beside(app, settings)
    return app


def _deliver_notifications_beside(app: Sanic, settings: Settings) -> None:
    """With Redis, a `gongxin worker` process under Sanic's manager; without, a loop in each worker."""
    if settings.redis_url:

        async def manage_worker(app: Sanic) -> None:
            app.manager.manage("NotificationsWorker", _notifications_worker, {})

        app.main_process_ready(manage_worker)
        return

    async def start_embedded(app: Sanic) -> None:
        from notifications.embedded import EmbeddedWorker  # the composition root reaches every package

        app.ctx.notifications = EmbeddedWorker(settings=settings)
        app.ctx.notifications.start()

    async def stop_embedded(app: Sanic) -> None:
        await app.ctx.notifications.stop()

    app.after_server_start(start_embedded)
    app.before_server_stop(stop_embedded)


def _checkpoint_beside(app: Sanic, settings: Settings) -> None:
    """Every worker integrates and signs the transparency logs' new leaves (backend/translog/integrate.py).

    Each checks four times a second; a log another process is integrating is skipped, never done twice.
    """
    from .translog import integrate, keys

    async def start(app: Sanic) -> None:
        app.ctx.checkpointer = integrate.Checkpointer(
            name=keys.log_name(settings.public_base_url), cipher=app.ctx.container.cipher
        )
        app.ctx.checkpointer.start()

    async def stop(app: Sanic) -> None:
        await app.ctx.checkpointer.stop()

    app.after_server_start(start)
    app.before_server_stop(stop)


def _notifications_worker() -> None:
    from notifications.worker import main

    main()


GC_YOUNG_THRESHOLD = 10_000


async def freeze_startup_objects(app: Sanic) -> None:
    """Keep what start-up built (modules, models, routes, the OpenAPI document) out of the cyclic GC.

    Those objects live as long as the process, yet every full collection walked all of them: about
    55 ms with the worker doing nothing else, and under load one came about every 1,000 check-ins,
    which was most of a 1,000-member burst's p99 and a fifth of its wall time. ``gc.freeze`` moves them to a
    generation the collector skips, and a full collection then takes 1-2 ms (bench/README.md).

    The youngest generation is then collected every 10,000 new objects rather than 700: each
    collection walks the objects of the requests in flight whatever the threshold, so fewer of them
    cost less (2 % of a check-in's instructions, bench/instructions.sh), for at most 10,000 objects
    of cyclic garbage waiting a little longer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def run(settings: Settings, *, workers: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM; stop the emulator with the server. Exit 1 if workers kept dying."""
    from miniprogram_api.transport import DeadlineHttpProtocol
    from miniprogram_api.workers import WorkerWatchdog

    emulator = None
    if settings.wechat_emulator:
        from .wechat.emulator import WeChatEmulator

        host, _, port = settings.wechat_api_base.removeprefix("http://").partition(":")
        emulator = WeChatEmulator(
            appid=settings.wechat_appid,
            secret=settings.wechat_secret.get_secret_value(),
            host=host,
            port=int(port or 80),
            auto_consent=True,
        )
        emulator.start()
        log.info("WeChat emulator on %s", emulator.url)
    print(banner(settings), flush=True)
    watchdog = WorkerWatchdog()
    try:
        from miniprogram_api.metrics import shared_between_workers

        with shared_between_workers(workers or settings.workers):
            loader = AppLoader(factory=partial(_app_factory))
            app = loader.load()
            app.main_process_ready(watchdog.start)
            app.main_process_stop(watchdog.stop)
            app.prepare(
                host=settings.host,
                port=settings.port,
                workers=workers or settings.workers,
                protocol=DeadlineHttpProtocol,
                motd=False,
            )
            Sanic.serve(primary=app, app_loader=loader)
    finally:
        if emulator is not None:
            emulator.stop()
    if watchdog.gave_up:
        raise SystemExit(1)


def banner(settings: Settings) -> str:
    """The links a newcomer needs, printed by `gongxin serve`."""
    base = listening_origin(settings.host, settings.port)
    lines = [
        f"Gongxin is starting on {base}  (APP_ENV={settings.app_env})",
        f"  API docs:         {base}/docs",
        f"  OpenAPI JSON:     {base}/docs/openapi.json",
        f"  Health:           {base}/healthz   readiness: {base}/readyz",
    ]
    if settings.wechat_emulator:
        lines += [
            f"  WeChat emulator:  {settings.wechat_api_base}/__emulator__/messages",
            f"  Log in:  curl -s -X POST {base}/api/v1/auth/login -H 'Content-Type: application/json' "
            '-d \'{"code": "dev-alice"}\'',
            f"  Then:    curl -s {base}/api/v1/me -H 'Authorization: Bearer <token>'",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
