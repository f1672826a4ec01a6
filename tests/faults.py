"""Dependencies of our own to break for real: a PostgreSQL cluster and a redis-server on free ports.

Fault tests never touch the shared services: each starts its own, in a temporary directory, stops,
restarts or freezes it (SIGSTOP on every PostgreSQL process: a database that accepts connections and
never answers), and removes it afterwards. Run as root (CI), PostgreSQL runs as the ``postgres`` user,
since initdb refuses root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

PG_BIN = Path(os.environ.get("GONGXIN_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


# Fault tests bring their own PostgreSQL, Redis or server: nothing in them depends on the leg, so
# they run once, in the embedded leg (`make test` runs both legs in CI).
ONE_LEG = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="leg-independent: runs in the embedded leg"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def postgres_available() -> bool:
    return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()


def redis_available() -> bool:
    return Path(REDIS_SERVER).exists()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: ``start``, ``stop``, ``pause`` (SIGSTOP), ``resume``, ``close``."""

    def __init__(self) -> None:
        # Its own directory under /tmp, not pytest's: those are private to root, and PostgreSQL runs
        # as the postgres user when the tests run as root.
        root = self.root = Path(tempfile.mkdtemp(prefix="gongxin-pg-"))
        self.data = root / "data"
        self.port = free_port()
        self._as: dict[str, Any] = {"cwd": root}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            self._as.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
            os.chown(root, owner.pw_uid, owner.pw_gid)
        self._run(
            PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: Any) -> None:
        subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=60, **self._as)

    def start(self) -> None:
        # fsync off: the cluster is thrown away, and an immediate stop kills processes, not the
        # machine, so the OS still holds what was written. synchronous_commit stays on: with it off, a
        # commit acknowledged just before an immediate stop is lost (a login made right before the
        # outage would then be gone after it, which no real PostgreSQL does).
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w", "start")

    def stop(self) -> None:
        """Stop at once, as a crash or a failover does (connections are cut)."""
        self.resume()
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def pids(self) -> list[int]:
        pidfile = self.data / "postmaster.pid"
        if not pidfile.exists():
            return []
        main = int(pidfile.read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == main:
                    children.append(int(entry.name))
        return [main, *children]

    def _signal(self, signum: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def pause(self) -> None:
        """Freeze every PostgreSQL process: connections stay open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A throwaway redis-server that keeps nothing on disk: ``start``, ``stop``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(lambda: port_open(self.port), timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
