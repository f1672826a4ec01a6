"""The watchdog's decisions, against a fake worker manager (a real server is killed in tests/e2e)."""

from __future__ import annotations

from typing import Any

from sanic.worker.constants import ProcessState

from miniprogram_api.workers import WorkerWatchdog


class FakeProcess:
    def __init__(self, name: str, pid: int, state: ProcessState = ProcessState.ACKED) -> None:
        self.name, self.pid, self.state, self.exitcode = name, pid, state, None

    def die(self, pid_after_restart: int) -> None:
        self.state, self.exitcode = ProcessState.FAILED, -9
        self._next_pid = pid_after_restart

    def restarted(self) -> None:
        self.state, self.pid, self.exitcode = ProcessState.ACKED, self._next_pid, None


class FakePipe:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


class FakeManager:
    def __init__(self, *processes: FakeProcess) -> None:
        self.transient_processes = list(processes)
        self.monitor_publisher = FakePipe()


def test_a_dead_server_worker_is_restarted_once_per_death():
    worker = FakeProcess("Sanic-Server-0-0", pid=100)
    manager = FakeManager(worker, FakeProcess("Sanic-Server-1-0", pid=101))
    watchdog = WorkerWatchdog(stop_server=lambda: None)
    watchdog.check(manager, now=0)
    assert manager.monitor_publisher.sent == []
    worker.die(pid_after_restart=102)
    watchdog.check(manager, now=1)
    watchdog.check(manager, now=1.5)  # the manager has not taken the message yet: not asked twice
    assert manager.monitor_publisher.sent == ["Sanic-Server-0-0"]
    worker.restarted()
    worker.die(pid_after_restart=103)
    watchdog.check(manager, now=2)
    assert manager.monitor_publisher.sent == ["Sanic-Server-0-0", "Sanic-Server-0-0"]


def test_a_worker_stopped_on_purpose_or_not_a_server_is_left_alone():
    stopped = FakeProcess("Sanic-Server-0-0", pid=100, state=ProcessState.TERMINATED)
    other = FakeProcess("Sanic-Reloader-0", pid=101, state=ProcessState.FAILED)
    manager = FakeManager(stopped, other)
    WorkerWatchdog(stop_server=lambda: None).check(manager, now=0)
    assert manager.monitor_publisher.sent == []


def test_a_worker_that_keeps_dying_stops_the_server_instead():
    stops: list[bool] = []
    watchdog = WorkerWatchdog(max_restarts=3, window=60, stop_server=lambda: stops.append(True))
    worker = FakeProcess("Sanic-Server-0-0", pid=100)
    manager = FakeManager(worker)
    for second in range(4):
        worker.die(pid_after_restart=200 + second)
        watchdog.check(manager, now=second)
        worker.restarted()
    assert len(manager.monitor_publisher.sent) == 3
    assert stops == [True] and watchdog.gave_up
    worker.die(pid_after_restart=300)
    watchdog.check(manager, now=5)
    assert len(manager.monitor_publisher.sent) == 3 and stops == [True]


def test_deaths_spread_over_more_than_the_window_are_each_replaced():
    watchdog = WorkerWatchdog(max_restarts=3, window=60, stop_server=lambda: None)
    worker = FakeProcess("Sanic-Server-0-0", pid=100)
    manager = FakeManager(worker)
    for minute in range(6):
        worker.die(pid_after_restart=200 + minute)
        watchdog.check(manager, now=minute * 30.0)
        worker.restarted()
    assert len(manager.monitor_publisher.sent) == 6 and not watchdog.gave_up
