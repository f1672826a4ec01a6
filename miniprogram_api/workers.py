"""A server worker that dies is replaced; one that keeps dying stops the whole server.

Sanic's main process holds the listening socket and starts the workers that answer on it. When a
worker dies without being told to (``kill -9``, the OOM killer, a crash in C), Sanic 25.12 marks it
failed and does nothing else (sanic-org/sanic#3062): the kernel keeps accepting connections on the
socket, and nobody answers them. ``WorkerWatchdog`` runs in the main process, looks at the server
workers twice a second, and asks Sanic's own worker manager to restart a dead one, through the
manager's monitor pipe, as Sanic's auto-reload does: the restart runs in the manager's loop, never
beside it (sanic-org/sanic#3055). The new worker picks up the connections waiting on the socket.

If a worker that was replaced ``MAX_RESTARTS`` times within ``WINDOW_SECONDS`` dies again (it
crashes at start, or on every request), replacing it again is no use: the watchdog stops the
server (SIGTERM to the main process), ``gongxin serve`` exits with status 1, and the supervisor
(systemd, Kubernetes) restarts it or reports it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sanic.worker.constants import ProcessState
from sanic.worker.process import WorkerProcess

log = logging.getLogger("gongxin.workers")

MAX_RESTARTS = 5
WINDOW_SECONDS = 60.0
CHECK_INTERVAL_SECONDS = 0.5
# What a dead worker's state reads once the manager has noticed (a stopped one reads TERMINATED).
_DEAD = (ProcessState.FAILED, ProcessState.COMPLETED)


class Manager(Protocol):
    """What the watchdog uses of Sanic's ``WorkerManager``."""

    @property
    def transient_processes(self) -> Iterable[WorkerProcess]: ...

    monitor_publisher: Any


class WorkerWatchdog:
    """Restarts dead server workers of a Sanic worker manager; stops the server on a crash loop."""

    def __init__(
        self,
        *,
        max_restarts: int = MAX_RESTARTS,
        window: float = WINDOW_SECONDS,
        stop_server: Callable[[], None] | None = None,
    ) -> None:
        self.max_restarts, self.window = max_restarts, window
        # What stops the whole server: SIGTERM to this (the main) process, as a supervisor would.
        self._stop_server = stop_server or (lambda: os.kill(os.getpid(), signal.SIGTERM))
        self.gave_up = False
        self._restarts: dict[str, deque[float]] = {}
        self._replaced: set[int | None] = set()  # pids of dead workers already asked to be replaced
        self._stopped = threading.Event()

    def start(self, app: Any, *_: Any) -> None:
        """Watch ``app.manager`` from a daemon thread (a ``main_process_ready`` listener)."""
        thread = threading.Thread(target=self._run, args=(app.manager,), name="gongxin-watchdog", daemon=True)
        thread.start()

    def stop(self, *_: Any) -> None:
        """Stop watching (a ``main_process_stop`` listener)."""
        self._stopped.set()

    def _run(self, manager: Manager) -> None:
        while not self._stopped.wait(CHECK_INTERVAL_SECONDS):
            self.check(manager, now=time.monotonic())

    def check(self, manager: Manager, *, now: float) -> None:
        """Ask for a restart of each dead server worker, or stop the server if they keep dying."""
        for process in list(manager.transient_processes):
            # Sanic's own test for a server worker (as opposed to a process an app asked it to run).
            if WorkerProcess.SERVER_LABEL not in process.name:
                continue
            if process.state not in _DEAD or process.pid in self._replaced or self._stopped.is_set():
                continue
            recent = self._restarts.setdefault(process.name, deque())
            while recent and now - recent[0] > self.window:
                recent.popleft()
            if len(recent) >= self.max_restarts:
                self._give_up(process.name, len(recent))
                return
            recent.append(now)
            log.error(
                "worker %s (pid %s) died with exit code %s; starting another",
                process.name,
                process.pid,
                process.exitcode,
            )
            self._replaced.add(process.pid)
            manager.monitor_publisher.send(process.name)

    def _give_up(self, name: str, deaths: int) -> None:
        log.critical(
            "worker %s died %d times within %.0f s; stopping the server so that its supervisor restarts it",
            name,
            deaths,
            self.window,
        )
        self.gave_up = True
        self._stopped.set()
        self._stop_server()
