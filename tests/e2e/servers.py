"""`gongxin serve` as a subprocess on free ports, with its own database: for tests that need real sockets."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.faults import free_port, wait_until
from tests.migrated import migrated_sqlite

CLI = [sys.executable, "-m", "backend.cli"]


def _admin_execute(base_url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        parts = urlsplit(base_url.replace("postgres://", "postgresql://", 1))
        conn = await asyncpg.connect(urlunsplit(parts._replace(query="")))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


class RunningServer:
    """A migrated database with the demo data and `gongxin serve` on it, in its own process group.

    ``leg_database=True``: on the PostgreSQL leg (TEST_DATABASE_URL set) a database of its own on
    that server, dropped by ``stop``; otherwise, and by default, a SQLite file. Redis is never the
    shared one: the server's keys have no per-run prefix.
    """

    def __init__(self, tmp: Path, *, leg_database: bool = False, **settings: str) -> None:
        self._dropped_by_stop: str | None = None
        base = os.environ.get("TEST_DATABASE_URL")
        if leg_database and base and "DATABASE_URL" not in settings:
            name = f"gongxin_server_{secrets.token_hex(4)}"
            _admin_execute(base, f'CREATE DATABASE "{name}"')
            self._dropped_by_stop = name
            settings["DATABASE_URL"] = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
        self.port, self.emulator_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite://{tmp / f'server-{self.port}.sqlite3'}",
            "PORT": str(self.port),
            "WECHAT_API_BASE": f"http://127.0.0.1:{self.emulator_port}",
            "LOG_FORMAT": "json",
            "DEMO_QR_PATH": str(tmp / f"demo-qr-{self.port}.png"),
            "LOGIN_RATE_LIMIT_PER_MINUTE": "100000",
            **settings,
        }
        for name in ("REDIS_URL", "PUBLIC_BASE_URL", "WORKERS"):
            if name not in settings:
                self.env.pop(name, None)
        # `gongxin migrate` then `gongxin demo-data`, in one interpreter (each start imports the app).
        prepare = "from backend import cli; cli.main(['migrate']); print('--'); cli.main(['demo-data'])"
        if "DATABASE_URL" not in settings:
            # A SQLite file of its own: a copy of the migrated empty database (tests/migrated.py).
            migrated_sqlite(tmp / f"server-{self.port}.sqlite3")
            prepare = "from backend import cli; print('--'); cli.main(['demo-data'])"
        output = subprocess.run(
            [sys.executable, "-c", prepare],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=180,
        ).stdout
        self.demo_output = output.split("--\n", 1)[1]
        self.process: subprocess.Popen[str] | None = None

    def sharing(self, tmp: Path) -> RunningServer:
        """Another `gongxin serve` on this one's database and Redis, on ports of its own (not started)."""
        other = object.__new__(RunningServer)
        other._dropped_by_stop = None
        other.port, other.emulator_port = free_port(), free_port()
        other.url = f"http://127.0.0.1:{other.port}"
        other.log = tmp / f"server-{other.port}.log"
        other.env = {
            **self.env,
            "PORT": str(other.port),
            "WECHAT_API_BASE": f"http://127.0.0.1:{other.emulator_port}",
        }
        other.demo_output = self.demo_output
        other.process = None
        return other

    def start(self) -> RunningServer:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [*CLI, "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        assert wait_until(self.ready, timeout=60), self.log.read_text()[-3000:]
        return self

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def token(self, name: str) -> str:
        response = httpx.post(f"{self.url}/api/v1/auth/login", json={"code": f"dev-{name}"}, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def worker_pids(self) -> list[int]:
        """The pids of the Sanic server workers under this server's main process."""
        assert self.process is not None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and b"SANIC_WORKER_NAME=Sanic-Server" in environ:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if self._dropped_by_stop is not None:
            base = os.environ["TEST_DATABASE_URL"]
            _admin_execute(base, f'DROP DATABASE IF EXISTS "{self._dropped_by_stop}" WITH (FORCE)')
            self._dropped_by_stop = None
