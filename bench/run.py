"""`make bench`: measure Gongxin's endpoints with wrk against a hello-world ceiling, on 127.0.0.1 only.

    .venv/bin/python bench/run.py              # 10 s per scenario (BENCH_DURATION or --duration)
    .venv/bin/python bench/run.py --quick      # 3 s per scenario: a smoke check of the harness
    .venv/bin/python bench/run.py --only me    # some scenarios (comma-separated names)
    .venv/bin/python bench/run.py --embedded   # SQLite + in-process cache even if services answer
    .venv/bin/python bench/run.py --profile    # py-spy on the server's worker during each run

It installs wrk if missing, picks PostgreSQL + Redis when they answer on 127.0.0.1 (else SQLite and
the in-process cache), migrates, loads the demo data (and 1,000,000 seeded organizations when a selected
scenario needs them, bench/seed.py), starts `gongxin serve` (1 worker, JSON logs at WARNING, the local
WeChat emulator) and bench/hello.py, measures the ceiling and each scenario of bench/scenarios.py
(timing the command scenarios, bench/commands.py), prints a table and writes
bench/results/<UTC time>.json and latest.json.
Every process it starts is stopped on the way out. Only ratios mean anything on a shared 2-core box.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from string import Formatter
from typing import Any
from urllib.parse import quote, urlsplit

import profiling
from commands import COMMANDS, CommandContext
from scenarios import DEMO_FOUNDATION, DEMO_ORG, PATH_VALUES, SCENARIOS, SEED_COUNT, Scenario

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
HOST = "127.0.0.1"  # the only address this harness ever sends load to
PG_PORT = 5432
# Overridable so that two checkouts on one machine can bench without dropping each other's database.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "gongxin_bench")
REDIS_PORT = 6379
# A Redis database of its own: the test suite uses 0 (and 15); this one is flushed at the start.
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "14"))
THREADS = 2
CONNECTIONS = 64
DEFAULT_DURATION = 10
QUICK_DURATION = 3
MAX_DURATION = 60
# BENCH_READY_TIMEOUT: on a loaded 2-core machine the server's start (route table finalized once per
# route by sanic-ext's HEAD/OPTIONS handlers) can take longer than 30 s.
READY_TIMEOUT_S = float(os.environ.get("BENCH_READY_TIMEOUT", "30"))
SETUP_COMMAND_TIMEOUT_S = 180.0
STOP_GRACE_S = 5.0
SETTLE_S = 0.5  # pause after each load run, so the next starts on an idle server
HTTP_ATTEMPTS = 3
BENCH_USER_CODE = "dev-bench"
SERVER_ENV_OVERRIDES = {
    # Every wrk connection comes from 127.0.0.1; the default 30/min per IP would turn login into 429s.
    "LOGIN_RATE_LIMIT_PER_MINUTE": "1000000",
    # As in production (development turns Sanic's access log on): building the records costs about
    # 12 % of the worker's time on a cheap endpoint even at LOG_LEVEL=WARNING. The ceiling's is off too.
    "ACCESS_LOG": "false",
    # No notifications worker beside the server: the rows measure the server alone, as before it
    # existed; the `notify` scenario runs a worker of its own.
    "SERVE_NOTIFICATIONS": "false",
}
MAX_BURST = 50_000  # --burst: members are created (and their sessions warmed) before the burst
# Each burst scenario runs this many times (a new activity and new members each time) and its row
# gives the median req/s, p50 and p99. A 1,000-member burst lasts a third of a second: on 2 cores
# shared with wrk, PostgreSQL and Redis, one such sample moves by a third from one run to the next
# with the same code, while the ceiling it is compared with is already the better of two 10 s runs.
BURST_RUNS = 3
BURST_LIMIT_S = 60  # a burst scenario that has not finished by then is stopped and flagged
BURST_HELPER_TIMEOUT_S = 120.0


class BenchError(Exception):
    """A setup failure: the run cannot measure anything meaningful."""


def say(*parts: object) -> None:
    print(*parts, flush=True)


# --------------------------------------------------------------------------------------------- wrk


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package if needed."""
    found = shutil.which("wrk")
    if found:
        return found
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise BenchError(
                "wrk is not installed and this is not root: install it with `apt-get install wrk`"
            )
        prefix = ["sudo", "-n"]
    if not shutil.which("apt-get"):
        raise BenchError(
            "wrk is not installed and there is no apt-get: install wrk (https://github.com/wg/wrk)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> bool:
        say(f"$ {' '.join([*prefix, 'apt-get', *args])}")
        try:
            done = subprocess.run(
                [*prefix, "apt-get", *args], env=env, capture_output=True, text=True, timeout=300, check=False
            )
        except subprocess.TimeoutExpired:
            say("  (timed out)")
            return False
        if done.returncode != 0:
            say("  " + (done.stderr.strip().splitlines() or ["failed"])[-1])
        return done.returncode == 0

    say("wrk is not installed; installing Debian's package")
    if not apt("install", "-y", "-q", "wrk"):
        apt("update", "-q")
        apt("install", "-y", "-q", "wrk")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("could not install wrk (apt-get install wrk failed): install it by hand and re-run")
    return found


def wrk_version(wrk: str) -> str:
    try:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def to_ms(value: str) -> float:
    """wrk's '812.00us', '4.20ms', '1.02s', '1.50m' as milliseconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", value.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/sec, latency percentiles (ms), totals, socket errors and non-2xx/3xx from wrk's text."""
    result: dict[str, Any] = {
        "rps": None,
        "latency_ms": {},
        "requests": None,
        "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "non_2xx_3xx": 0,
    }
    if m := re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.M):
        result["rps"] = float(m.group(1))
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+([0-9.]+(?:us|ms|s|m|h))\s*$", output, re.M):
        result["latency_ms"][pct] = round(to_ms(value), 3)
    if m := re.search(r"^\s*(\d+) requests in ([0-9.]+\w+)", output, re.M):
        result["requests"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        result["socket_errors"] = dict(
            zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True)
        )
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        result["non_2xx_3xx"] = int(m.group(1))
    return result


def lua_string(text: str) -> str:
    """A Lua string literal for any text (bytes outside printable ASCII as decimal escapes)."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        if char in '\\"':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def request_script(scenario: Scenario) -> str | None:
    """The Lua that sets wrk's method, body and headers, or None for a plain GET."""
    if scenario.lua:
        return None
    body = scenario.body
    if isinstance(body, dict | list):
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    headers = dict(scenario.headers)
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    if scenario.method == "GET" and body is None and not headers:
        return None
    lines = [
        f"-- generated by bench/run.py for scenario {scenario.name}",
        f"wrk.method = {lua_string(scenario.method)}",
    ]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Measurement:
    name: str
    method: str
    path: str
    rps: float | None = None
    seconds: float | None = None  # wall time, for command scenarios
    connections: int | None = None  # wrk -c, when it differs from the run's CONNECTIONS
    p50_ms: float | None = None
    p99_ms: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    requests: int | None = None
    non_2xx_3xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    problem: str | None = None  # why the numbers are missing or not to be trusted
    ratio: float | None = None
    target: str | None = None
    verdict: str = "-"  # PASS, MISS, or - without a target
    missed: list[str] = field(default_factory=list)
    description: str = ""
    wrk_output: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    @property
    def flagged(self) -> bool:
        return self.problem is not None or self.error_count > 0

    def errors_text(self) -> str:
        parts = []
        if self.non_2xx_3xx:
            parts.append(f"non2xx={self.non_2xx_3xx}")
        parts += [f"{k}={v}" for k, v in self.socket_errors.items() if v]
        if self.problem:
            parts.append(self.problem)
        return " ".join(parts) or "0"


def run_wrk(
    wrk: str,
    *,
    name: str,
    method: str,
    url: str,
    duration: int,
    warmup: int,
    workdir: Path,
    script: str | None = None,
    script_file: Path | None = None,
    headers: dict[str, str] | None = None,
    script_args: list[str] | None = None,
    during: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    connections: int = CONNECTIONS,
) -> Measurement:
    """wrk's warm-up, then its measured run (inside ``during()``, e.g. a profiler, when given)."""
    if not url.startswith(f"http://{HOST}:"):
        raise BenchError(f"refusing to load anything but {HOST}: {url}")
    cmd = [wrk, f"-t{min(THREADS, connections)}", f"-c{connections}"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    if script is not None:
        script_file = workdir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lua"
        script_file.write_text(script)
    if script_file is not None:
        cmd += ["-s", str(script_file)]
    measurement = Measurement(
        name=name, method=method, path=urlsplit(url).path or "/", connections=connections
    )

    def invoke(seconds: int, latency: bool) -> subprocess.CompletedProcess[str]:
        args = [*cmd, f"-d{seconds}s", *(["--latency"] if latency else []), url]
        if script_args:
            args += ["--", *script_args]
        return subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, check=False)

    try:
        if warmup > 0:
            invoke(warmup, latency=False)
        with during() if during else contextlib.nullcontext():
            done = invoke(duration, latency=True)
    except subprocess.TimeoutExpired:
        measurement.problem = "wrk timed out"
        return measurement
    finally:
        time.sleep(SETTLE_S)
    measurement.wrk_output = done.stdout + (done.stderr and "\n[stderr]\n" + done.stderr)
    if done.returncode != 0:
        measurement.problem = f"wrk exited {done.returncode}: {done.stderr.strip()[:200]}"
    parsed = parse_wrk(done.stdout)
    measurement.rps = parsed["rps"]
    measurement.latency_ms = parsed["latency_ms"]
    measurement.p50_ms = parsed["latency_ms"].get("50")
    measurement.p99_ms = parsed["latency_ms"].get("99")
    measurement.requests = parsed["requests"]
    measurement.non_2xx_3xx = parsed["non_2xx_3xx"]
    measurement.socket_errors = parsed["socket_errors"]
    if measurement.rps is None and measurement.problem is None:
        measurement.problem = "no Requests/sec in wrk's output"
    return measurement


# ------------------------------------------------------------------------------------ services


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def _reset_postgres() -> str:
    import asyncpg

    conn = await asyncpg.connect(
        host=HOST, port=PG_PORT, user="postgres", database="postgres", timeout=3, command_timeout=30
    )
    try:
        version = conn.get_server_version()
        force = " WITH (FORCE)" if version.major >= 13 else ""
        await conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}"{force}')
        await conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        return str(await conn.fetchval("SHOW server_version")).split(" ", 1)[0]
    finally:
        await conn.close()


def choose_database(embedded: bool, tmp: Path) -> tuple[str, str]:
    """(DATABASE_URL, description): a fresh PostgreSQL database if the server answers, else SQLite."""
    sqlite_url = f"sqlite://{tmp / 'bench.sqlite3'}"
    if embedded:
        return sqlite_url, "SQLite (--embedded)"
    try:
        version = asyncio.run(asyncio.wait_for(_reset_postgres(), 40))
    except ImportError:
        return sqlite_url, "SQLite (asyncpg is not installed)"
    except (OSError, TimeoutError) as exc:
        return sqlite_url, f"SQLite (no PostgreSQL on {HOST}:{PG_PORT}: {type(exc).__name__})"
    except Exception as exc:  # asyncpg's own errors: auth, permissions
        return sqlite_url, f"SQLite (PostgreSQL answered but refused: {exc})"
    return (
        f"postgres://postgres@{HOST}:{PG_PORT}/{PG_DATABASE}",
        f"PostgreSQL {version} at {HOST}:{PG_PORT}, database {PG_DATABASE} (dropped and created)",
    )


def _redis_command(sock: socket.socket, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(payload.encode())
    return sock.recv(256)


def choose_redis(embedded: bool) -> tuple[str | None, str]:
    """(REDIS_URL or None, description): Redis if it answers PING (its bench database flushed)."""
    if embedded:
        return None, "in-process fakeredis (--embedded)"
    try:
        with socket.create_connection((HOST, REDIS_PORT), timeout=2) as sock:
            if not _redis_command(sock, "PING").startswith(b"+PONG"):
                return None, f"in-process fakeredis (Redis at {HOST}:{REDIS_PORT} did not answer PONG)"
            _redis_command(sock, "SELECT", str(REDIS_DB))
            _redis_command(sock, "FLUSHDB")
    except OSError as exc:
        return None, f"in-process fakeredis (no Redis on {HOST}:{REDIS_PORT}: {type(exc).__name__})"
    url = f"redis://{HOST}:{REDIS_PORT}/{REDIS_DB}"
    return url, f"Redis at {url} (flushed)"


def settings_names() -> set[str]:
    """The upper-case env names of Gongxin's settings, so a developer's shell cannot leak into the run."""
    try:
        from backend.config import Settings
    except Exception:  # the harness still runs; the explicit values below win anyway
        return set()
    return {name.upper() for name in Settings.model_fields}


def server_env(database_url: str, redis_url: str | None, port: int, emulator_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in settings_names() and not k.startswith("GONGXIN_")}
    env.update(
        {
            # development only because production refuses the emulator; the rest as in production.
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "HOST": HOST,
            "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://{HOST}:{port}",
            "WORKERS": "1",
            "WECHAT_EMULATOR": "true",
            "WECHAT_API_BASE": f"http://{HOST}:{emulator_port}",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DATA_ENCRYPTION_KEY": secrets.token_urlsafe(48),
            "PYTHONUNBUFFERED": "1",
            **SERVER_ENV_OVERRIDES,
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    if READY_TIMEOUT_S > 30:  # Sanic's own wait for its worker to start is 30 s too
        env["GONGXIN_SANIC_WORKER_ACK_TIMEOUT"] = str(READY_TIMEOUT_S)
    return env


def gongxin_command() -> list[str]:
    beside = Path(sys.executable).parent / "gongxin"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("gongxin")
    return [found] if found else [sys.executable, "-m", "backend.cli"]


def run_captured(
    args: list[str], env: dict[str, str], *, timeout: float, name: str
) -> subprocess.CompletedProcess[str]:
    """Run a helper command from the repository root, its output captured; BenchError on timeout."""
    try:
        return subprocess.run(
            args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{name}: no answer in {timeout:.0f} s") from exc


def run_setup_command(args: list[str], env: dict[str, str]) -> None:
    say(f"$ {' '.join(Path(args[0]).name if i == 0 else a for i, a in enumerate(args))}")
    done = run_captured(args, env, timeout=SETUP_COMMAND_TIMEOUT_S, name=" ".join(args))
    for line in done.stdout.strip().splitlines()[-3:]:
        say(f"  {line}")
    if done.returncode != 0:
        raise BenchError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr.strip()[-2000:]}")


class Process:
    """A child in its own process group, stopped with SIGINT, then SIGKILL after a grace period."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            args, env=env, cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        pgid = self.proc.pid  # start_new_session: the group id is the child's pid
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                say(f"  {self.name} did not stop within {STOP_GRACE_S:.0f} s of SIGINT; SIGKILL")
        # Whatever is left in the group (a worker that outlived its manager, say) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_GRACE_S)
        self._log.close()


def http(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> tuple[int, bytes]:
    if not url.startswith(f"http://{HOST}:"):
        raise BenchError(f"refusing to call anything but {HOST}: {url}")
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_retry(method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
    """`http`, retried on connection errors: right after a load run the server may still be draining."""
    for attempt in range(HTTP_ATTEMPTS):
        try:
            return http(method, url, **kwargs)
        except (OSError, urllib.error.URLError):
            if attempt == HTTP_ATTEMPTS - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def wait_until_ready(process: Process, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.alive():
            raise BenchError(
                f"{process.name} exited ({process.proc.returncode}) before {url} answered:\n"
                + process.log_tail()
            )
        try:
            status, body = http("GET", url, timeout=2)
            if status == 200:
                return
            last = f"HTTP {status}: {body[:200].decode(errors='replace')}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise BenchError(f"{url} not ready after {timeout:.0f} s ({last}):\n{process.log_tail()}")


# ------------------------------------------------------------------------------------ the run


def machine_info(wrk: str) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        import sanic

        sanic_version = sanic.__version__
    except Exception:
        sanic_version = "unknown"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sanic": sanic_version,
        "wrk": wrk_version(wrk),
        "git_commit": commit or None,
    }


def login_token(base: str) -> str:
    body = json.dumps({"code": BENCH_USER_CODE}).encode()
    status, raw = http_retry(
        "POST",
        f"{base}/api/v1/auth/login",
        body=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    if status != 200:
        raise BenchError(
            f"login as {BENCH_USER_CODE} answered HTTP {status}: {raw[:300].decode(errors='replace')}"
        )
    return str(json.loads(raw)["token"])


def preflight(scenario: Scenario, url: str, headers: dict[str, str]) -> str | None:
    """One request as wrk will send it; a problem string when it does not answer 2xx/3xx."""
    if scenario.lua:
        return None  # the script builds its own requests
    body = scenario.body
    if isinstance(body, dict | list):
        body = json.dumps(body)
    all_headers = {**headers, **scenario.headers}
    if body is not None:
        all_headers.setdefault("Content-Type", "application/json")
    try:
        status, raw = http_retry(
            scenario.method,
            url,
            body=None if body is None else body.encode(),
            headers=all_headers,
            timeout=10,
        )
    except (OSError, urllib.error.URLError) as exc:
        return f"preflight failed: {exc}"
    if not 200 <= status < 400:
        return f"preflight HTTP {status}: {raw[:120].decode(errors='replace')}"
    return None


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Measurement]) -> str:
    header = ["scenario", "req/s", "p50 ms", "p99 ms", "time s", "ratio", "errors", "target", "result"]
    cells = [
        [
            ("! " if m.flagged else "")
            + m.name
            + (f" (c={m.connections})" if m.connections and m.connections != CONNECTIONS else ""),
            fmt(m.rps, ",.0f"),
            fmt(m.p50_ms, ".2f"),
            fmt(m.p99_ms, ".2f"),
            fmt(m.seconds, ".2f"),
            fmt(m.ratio, ".2f"),
            m.errors_text(),
            m.target or "-",
            m.verdict,
        ]
        for m in rows
    ]
    widths = [max(len(header[i]), *(len(row[i]) for row in cells)) for i in range(len(header))]
    right = {1, 2, 3, 4, 5}

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in cells)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration",
        type=int,
        default=None,
        help=f"seconds per scenario (default BENCH_DURATION or {DEFAULT_DURATION})",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_DURATION} s per scenario (a smoke check)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="seconds of unmeasured load before each (default 1)"
    )
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument(
        "--embedded", action="store_true", help="SQLite + in-process cache even if services answer"
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=None,
        help="members per burst scenario (default: the scenario's own, 1,000 for checkin-burst)",
    )
    parser.add_argument(
        "--burst-runs",
        type=int,
        default=BURST_RUNS,
        help=f"bursts per burst scenario, the row giving their median (default {BURST_RUNS})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy samples the worker during each measured run (bench/profiling.py)",
    )
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = (
            QUICK_DURATION if args.quick else int(os.environ.get("BENCH_DURATION", DEFAULT_DURATION))
        )
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"duration must be 1..{MAX_DURATION} s")
    if not 0 <= args.warmup <= 10:
        parser.error("warmup must be 0..10 s")
    if args.burst is not None and not 1 <= args.burst <= MAX_BURST:
        parser.error(f"burst must be 1..{MAX_BURST}")
    if not 1 <= args.burst_runs <= 9:
        parser.error("burst-runs must be 1..9")
    return args


def select(only: str) -> list[Scenario]:
    if not only:
        return list(SCENARIOS)
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise BenchError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in wanted]


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM (and SIGHUP) unwind through the finally blocks, so children are stopped too."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass
class Stack:
    """What the run started, and how to reach it."""

    base: str
    hello_url: str
    env: dict[str, str]
    database: str
    cache: str
    server: Process
    server_log: Path
    hello: Process
    seed: dict[str, Any] | None = None  # what bench/seed.py did, when a scenario needed it


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def seed_organizations(database_url: str) -> dict[str, Any]:
    """bench/seed.py's organizations, before the server starts (so no cache has seen the table)."""
    import seed

    say(f"$ python bench/seed.py DATABASE_URL --count {SEED_COUNT}")
    try:
        result = seed.seed(database_url, SEED_COUNT)
    except seed.SeedError as exc:
        raise BenchError(f"seeding failed: {exc}") from exc
    except TimeoutError as exc:
        raise BenchError(f"seeding took longer than {seed.SEED_TIMEOUT_S} s") from exc
    say(f"  {result.summary()}")
    return asdict(result)


def start_stack(
    args: argparse.Namespace, tmp: Path, stamp: str, processes: list[Process], scenarios: list[Scenario]
) -> Stack:
    """Backing services, migrations, demo data (and seed), `gongxin serve` and the hello app, all ready."""
    database_url, database = choose_database(args.embedded, tmp)
    redis_url, cache = choose_redis(args.embedded)
    say(f"database: {database}")
    say(f"cache:    {cache}")
    port, emulator_port, hello_port = distinct_free_ports(3)
    env = server_env(database_url, redis_url, port, emulator_port)
    gongxin = gongxin_command()
    run_setup_command([*gongxin, "migrate"], env)
    run_setup_command([*gongxin, "demo-data"], env)
    if any(s.name == "donation" for s in scenarios):  # dev-bench records the donations
        grant = ["grant", "staff", "--user", "dev-bench", "--org", DEMO_FOUNDATION, "--role", "admin"]
        run_setup_command([*gongxin, *grant], env)
    seeded = seed_organizations(database_url) if any(s.needs_seed for s in scenarios) else None

    server_log = RESULTS_DIR / f"{stamp}.server.log"
    say(f"$ gongxin serve  ({HOST}:{port}, WeChat emulator on :{emulator_port})")
    server = Process("gongxin serve", [*gongxin, "serve"], env, server_log)
    processes.append(server)
    say(f"$ python bench/hello.py --port {hello_port}")
    hello_env = {k: v for k, v in os.environ.items() if not k.startswith("GONGXIN_")}
    hello_args = [sys.executable, str(BENCH_DIR / "hello.py"), "--port", str(hello_port)]
    hello = Process("hello", hello_args, hello_env, tmp / "hello.log")
    processes.append(hello)

    base = f"http://{HOST}:{port}"
    hello_url = f"http://{HOST}:{hello_port}/"
    wait_until_ready(server, f"{base}/readyz", READY_TIMEOUT_S)
    wait_until_ready(hello, hello_url, READY_TIMEOUT_S)
    return Stack(base, hello_url, env, database, cache, server, server_log, hello, seeded)


class TokenSource:
    """Logs in as dev-bench once (before any load, see `run`); remembers a failure too."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None
        self.problem: str | None = None

    def get(self) -> str | None:
        if self.token is None and self.problem is None:
            try:
                self.token = login_token(self.base)
            except (BenchError, OSError, urllib.error.URLError, KeyError, ValueError) as exc:
                self.problem = f"no token: {exc}"
        return self.token


class Profiler:
    """--profile: py-spy on the worker process of the server under load (bench/profiling.py)."""

    def __init__(self, stamp: str, duration: int) -> None:
        self.stamp = stamp
        self.duration = duration
        self.py_spy = profiling.py_spy()
        if self.py_spy is None:
            say("  --profile: py-spy is not installed and `pip install py-spy` failed; not profiling")

    def during(self, process: Process, name: str, m_details: dict[str, Any]) -> Callable[[], Any] | None:
        """A context factory for run_wrk, recording into m_details["profile"] afterwards."""
        if self.py_spy is None:
            return None
        workers = profiling.worker_pids(process.proc.pid)
        if len(workers) != 1:
            say(f"  --profile: expected one worker under {process.name}, found {workers}; not profiling")
            return None
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        out = RESULTS_DIR / f"{self.stamp}.{slug}.pyspy.txt"
        py_spy, duration = self.py_spy, self.duration

        @contextlib.contextmanager
        def recording() -> Iterator[None]:
            with profiling.record(py_spy, workers[0], duration, out):
                yield
            if out.exists() and out.stat().st_size:
                summary = profiling.summarize(out, seconds=duration)
                summary["file"] = str(out.relative_to(REPO_ROOT))
                summary["pid"] = workers[0]
                m_details["profile"] = summary
            else:
                m_details["profile"] = {"problem": "py-spy wrote nothing"}

        return recording


class PathValues:
    """The values paths name as {name} (scenarios.PATH_VALUES), fetched once from the running server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.values: dict[str, str] = {}
        self.problems: dict[str, str] = {}

    def _fetch(self, name: str) -> str:
        if name == "demo_qr_url":
            status, raw = http_retry("GET", f"{self.base}/api/v1/orgs/{DEMO_ORG}/qrcode", timeout=10)
            if status != 200:
                raise BenchError(f"GET /api/v1/orgs/{DEMO_ORG}/qrcode answered HTTP {status}")
            return str(json.loads(raw)["url"])
        if name in ("charity_project", "charity_big_project"):
            url = f"{self.base}/api/v1/projects?org={DEMO_FOUNDATION}"
            status, raw = http_retry("GET", url, timeout=10)
            if status != 200:
                raise BenchError(f"GET /api/v1/projects answered HTTP {status}")
            items = json.loads(raw)["items"]
            wanted = [p for p in items if (p["title"] == "bench-100k") == (name == "charity_big_project")]
            if not wanted:
                raise BenchError(f"no such project among the demo foundation's: {name}")
            return str(wanted[0]["id"])
        raise BenchError(f"no such path value {{{name}}}; known: {', '.join(PATH_VALUES)}")

    def get(self, name: str) -> str | None:
        if name not in self.values and name not in self.problems:
            try:
                self.values[name] = self._fetch(name)
            except (BenchError, OSError, urllib.error.URLError, KeyError, ValueError) as exc:
                self.problems[name] = f"no {{{name}}}: {exc}"
        return self.values.get(name)


# Characters a request target may carry as they are; anything else (Chinese text) is percent-encoded.
_PATH_SAFE = "/?&=%:+,;@!$'()*[]"


def resolve_path(template: str, values: PathValues) -> tuple[str, str | None]:
    """The path with {name}s filled in (URL-encoded) and non-ASCII percent-encoded, or a problem."""
    names = [name for _, name, _, _ in Formatter().parse(template) if name]
    filled: dict[str, str] = {}
    for name in names:
        value = values.get(name)
        if value is None:
            return template, values.problems[name]
        filled[name] = quote(value, safe="")
    path = template.format(**filled) if names else template
    return quote(path, safe=_PATH_SAFE), None


def measure_ceiling(
    wrk: str, label: str, stack: Stack, args: argparse.Namespace, tmp: Path, profiler: Profiler | None
) -> Measurement:
    say(f"  measuring {label} ...")
    details: dict[str, Any] = {}
    m = run_wrk(
        wrk,
        name=label,
        method="GET",
        url=stack.hello_url,
        duration=args.duration,
        warmup=args.warmup,
        workdir=tmp,
        during=profiler.during(stack.hello, label, details) if profiler else None,
    )
    m.details = details
    m.description = "bare Sanic JSON hello-world, 1 worker, access log off"
    return m


def measure_scenario(
    wrk: str,
    scenario: Scenario,
    stack: Stack,
    tokens: TokenSource,
    values: PathValues,
    args: argparse.Namespace,
    tmp: Path,
    profiler: Profiler | None = None,
) -> Measurement:
    headers: dict[str, str] = {}
    script_args: list[str] = []
    # A Lua script may build its own request, but a {name} in its path is still filled in.
    templated = not scenario.lua or "{" in scenario.path
    path, problem = resolve_path(scenario.path, values) if templated else (scenario.path, None)
    if scenario.needs_token:
        token = tokens.get()
        if token is None:
            problem = problem or tokens.problem
        else:
            headers["Authorization"] = f"Bearer {token}"
            script_args = [token]
    problem = problem or preflight(scenario, stack.base + path, headers)
    if problem:
        say(f"  skipping {scenario.name}: {problem}")
        m = Measurement(name=scenario.name, method=scenario.method, path=path, problem=problem)
    else:
        say(f"  measuring {scenario.name} ...")
        details: dict[str, Any] = {}
        m = run_wrk(
            wrk,
            name=scenario.name,
            method=scenario.method,
            url=stack.base + path,
            duration=args.duration,
            warmup=args.warmup,
            workdir=tmp,
            script=request_script(scenario),
            script_file=(BENCH_DIR / scenario.lua) if scenario.lua else None,
            headers=headers,
            script_args=script_args,
            during=profiler.during(stack.server, scenario.name, details) if profiler else None,
            connections=scenario.connections or CONNECTIONS,
        )
        m.details = details
    m.path = path
    m.description = scenario.description
    if scenario.target is not None:
        m.target = scenario.target.describe()
    return m


def burst_helper(env: dict[str, str], *args: str, script: str = "checkin_data.py") -> dict[str, Any]:
    """bench/checkin_data.py (or ``script``) in the server's environment (its database and SECRET_KEY);
    its JSON."""
    command = [sys.executable, str(BENCH_DIR / script), *args]
    done = run_captured(command, env, timeout=BURST_HELPER_TIMEOUT_S, name=f"{script} {args[0]}")
    if done.returncode != 0:
        raise BenchError(f"{script} {args[0]} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


SIGNUP_SEATS = 100  # the signup-burst's posting: this many seats, everyone else on the waitlist


def prepare_burst(
    scenario: Scenario, env: dict[str, str], count: int, run: str, tokens: Path
) -> tuple[int, str]:
    """Make the burst's target and its members; the target's id and the body every member sends."""
    if scenario.name == "signup-burst":
        prepared = burst_helper(
            env, "prepare", "--count", str(count), "--seats", str(SIGNUP_SEATS), "--run", run,
            "--tokens", str(tokens), script="signup_data.py",
        )  # fmt: skip
        return int(prepared["posting_id"]), json.dumps({"answers": {}})
    prepared = burst_helper(env, "prepare", "--count", str(count), "--run", run, "--tokens", str(tokens))
    activity_id = int(prepared["activity_id"])
    code = burst_helper(env, "code", "--activity", str(activity_id))
    body = json.dumps({"code": code["code"], "latitude": 22.5431, "longitude": 114.0579, "accuracy": 5})
    return activity_id, body


def verify_burst(
    scenario: Scenario, env: dict[str, str], target_id: int, count: int
) -> tuple[dict[str, Any], list[str]]:
    """What the burst left in the database, and what is wrong with it."""
    problems = []
    if scenario.name == "signup-burst":
        seats = min(SIGNUP_SEATS, count)
        found = burst_helper(
            env, "verify", "--posting", str(target_id), "--seats", str(SIGNUP_SEATS), script="signup_data.py"
        )
        expected = {
            "signups": count,
            "distinct_users": count,
            "confirmed": seats,
            "waitlisted": count - seats,
            "positions_1_to_n_in_order": True,
            "counters_match": True,
            "within_capacity": True,
            "outbox_events": count,
        }
    else:
        found = burst_helper(env, "verify", "--activity", str(target_id))
        expected = {"checkins": count, "distinct_users": count, "outbox_checkin_recorded": count}
    for key, value in expected.items():
        if found.get(key) != value:
            problems.append(f"{key} = {found.get(key)} in the database, expected {value}")
    return found, problems


def worker_cpu_ms(before: list[float | None], after: list[float | None], requests: int) -> float | None:
    """Milliseconds of server-worker CPU per request between two readings of every worker."""
    if not before or None in before or None in after or len(before) != len(after):
        return None
    used = sum(a - b for a, b in zip(after, before, strict=True))  # type: ignore[operator,misc]
    return round(used * 1000 / requests, 3)


def measure_burst(
    wrk: str,
    scenario: Scenario,
    stack: Stack,
    tmp: Path,
    stamp: str,
    profiler: Profiler | None = None,
    members: int | None = None,
    run: str | None = None,
) -> Measurement:
    """N members send the request once each (bench/checkin_burst.lua); then the database is checked.

    wrk keeps its own clock running for -d seconds whatever the script does, so the burst's end is
    when every wrk thread has written its done file (all its responses in); wrk is then interrupted
    and prints its latency distribution. req/s = N / that wall time (wrk's start included).
    """
    assert scenario.burst is not None
    count = members or scenario.burst
    m = Measurement(name=scenario.name, method=scenario.method, path=scenario.path)
    m.description = scenario.description
    if scenario.target is not None:
        m.target = scenario.target.describe()
    work = tmp / scenario.name
    work.mkdir(parents=True, exist_ok=True)
    tokens_file = work / "tokens.txt"
    say(f"  preparing {scenario.name}: where to send it, {count} members with a token each ...")
    try:
        started = time.perf_counter()
        target_id, body = prepare_burst(scenario, stack.env, count, run or stamp, tokens_file)
        prepare_s = time.perf_counter() - started
    except (BenchError, KeyError, ValueError) as exc:
        m.problem = f"setup: {exc}"
        say(f"  skipping {scenario.name}: {m.problem}")
        return m
    m.path = scenario.path.format(activity_id=target_id, posting_id=target_id)
    url = stack.base + m.path
    if not url.startswith(f"http://{HOST}:"):
        raise BenchError(f"refusing to load anything but {HOST}: {url}")
    done_prefix = str(work / "done.")
    threads = min(THREADS, CONNECTIONS)
    cmd = [wrk, f"-t{threads}", f"-c{CONNECTIONS}", f"-d{BURST_LIMIT_S}s", "--latency"]
    cmd += ["-s", str(BENCH_DIR / "checkin_burst.lua"), url, "--", str(tokens_file), body, done_prefix]
    cmd.append(str(threads))
    done_files = [Path(f"{done_prefix}{i}") for i in range(threads)]
    for stale in done_files:  # an earlier burst's, which would end this one before it starts
        stale.unlink(missing_ok=True)

    workers = profiling.worker_pids(stack.server.proc.pid)
    worker = workers if profiler and profiler.py_spy else []
    profile_out = RESULTS_DIR / f"{stamp}.{scenario.name}.pyspy.txt"
    recording = (
        profiling.record(profiler.py_spy, worker[0], 10, profile_out)
        if profiler and profiler.py_spy and len(worker) == 1
        else contextlib.nullcontext()
    )
    say(f"  measuring {scenario.name} ({count} requests, {CONNECTIONS} connections) ...")
    wall: float | None = None
    cpu_after: list[float | None] = []
    with recording:
        if profile_out.parent.exists() and len(worker) == 1:
            time.sleep(0.5)  # py-spy attaches before the burst starts
        cpu_before = [profiling.cpu_seconds(pid) for pid in workers]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while proc.poll() is None and time.perf_counter() - started < BURST_LIMIT_S + 5:
                if all(f.exists() for f in done_files):
                    wall = time.perf_counter() - started
                    cpu_after = [profiling.cpu_seconds(pid) for pid in workers]
                    break
                time.sleep(0.002)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # wrk prints its statistics on SIGINT
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    time.sleep(SETTLE_S)
    m.wrk_output = out + (err and "\n[stderr]\n" + err)
    parsed = parse_wrk(out)
    m.latency_ms = parsed["latency_ms"]
    m.p50_ms = parsed["latency_ms"].get("50")
    m.p99_ms = parsed["latency_ms"].get("99")
    m.requests = parsed["requests"]
    m.non_2xx_3xx = parsed["non_2xx_3xx"]  # wrk counts status > 399
    m.socket_errors = parsed["socket_errors"]
    statuses = [f.read_text().split() for f in done_files if f.exists()]
    created = sum(int(s[0]) for s in statuses)
    other_2xx = sum(int(s[1]) for s in statuses)
    failed = sum(int(s[2]) for s in statuses)
    problems = []
    if wall is None:
        problems.append(f"the burst did not finish within {BURST_LIMIT_S} s")
    else:
        m.rps = round(count / wall, 2)
    try:
        verified, wrong = verify_burst(scenario, stack.env, target_id, count)
        problems += wrong
    except BenchError as exc:
        verified = {}
        problems.append(f"verify: {exc}")
    m.details = {
        "members": count,
        "target_id": target_id,
        "burst_wall_s": None if wall is None else round(wall, 4),
        "prepare_s": round(prepare_s, 2),
        "responses": {"201": created, "other_2xx": other_2xx, "non_2xx": failed},
        "wrk_requests_rps": parsed["rps"],  # requests / wrk's own runtime (up to its interruption)
        # The server worker's CPU (user + system, /proc) over the burst, per request: steadier than
        # req/s on a machine whose 2 cores wrk, PostgreSQL and Redis share with the server.
        "worker_cpu_ms_per_request": worker_cpu_ms(cpu_before, cpu_after, count) if wall else None,
        "database": verified,
    }
    if (created, other_2xx, failed) != (count, 0, 0):
        problems.append(f"responses 201={created} 2xx={other_2xx} other={failed}, expected 201={count}")
    if m.requests is not None and m.requests != count:
        problems.append(f"wrk completed {m.requests} requests, expected {count}")
    if problems:
        m.problem = "; ".join(problems)
    if profiler and len(worker) == 1 and profile_out.exists() and profile_out.stat().st_size and wall:
        summary = profiling.summarize(profile_out, seconds=wall)
        summary["file"] = str(profile_out.relative_to(REPO_ROOT))
        summary["pid"] = worker[0]
        m.details["profile"] = summary
    say(
        f"    {count} in {fmt(wall, '.3f')} s; responses 201={created} other={other_2xx + failed}; "
        f"database: {json.dumps(verified)}; worker CPU {m.details['worker_cpu_ms_per_request']} ms a request"
    )
    return m


def measure_bursts(
    wrk: str,
    scenario: Scenario,
    stack: Stack,
    tmp: Path,
    stamp: str,
    profiler: Profiler | None,
    members: int | None,
    runs: int,
) -> Measurement:
    """``runs`` bursts of the scenario (BURST_RUNS), each on its own activity and members; one row
    with the median req/s, p50 and p99, and every run's figures in ``details["runs"]``. Anything
    wrong in any run (an error, a missing check-in) flags the row."""
    done = [
        # py-spy, when asked for, records the first burst only (one profile per row).
        measure_burst(wrk, scenario, stack, tmp, stamp, profiler if i == 0 else None, members, f"{stamp}-{i}")
        for i in range(runs)
    ]
    if runs == 1:
        return done[0]
    first = done[0]
    m = Measurement(
        name=scenario.name, method=scenario.method, path=first.path, description=first.description
    )
    m.target = first.target

    def median_of(values: list[float | None]) -> float | None:
        return None if None in values else statistics.median(values)  # type: ignore[type-var]

    m.rps = median_of([r.rps for r in done])
    m.p50_ms = median_of([r.p50_ms for r in done])
    m.p99_ms = median_of([r.p99_ms for r in done])
    m.requests = first.requests if all(r.requests == first.requests for r in done) else None
    m.non_2xx_3xx = sum(r.non_2xx_3xx for r in done)
    for r in done:
        for kind, n in r.socket_errors.items():
            m.socket_errors[kind] = m.socket_errors.get(kind, 0) + n
    problems = [f"run {i + 1}: {r.problem}" for i, r in enumerate(done) if r.problem]
    m.problem = "; ".join(problems) or None
    m.wrk_output = "\n\n".join(f"[run {i + 1}]\n{r.wrk_output}" for i, r in enumerate(done))
    m.details = {
        "median_of": runs,
        "runs": [
            {"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "latency_ms": r.latency_ms, **r.details}
            for r in done
        ],
    }
    if "profile" in first.details:
        m.details["profile"] = first.details["profile"]
    each = ", ".join(f"{fmt(r.rps, ',.0f')} req/s p99 {fmt(r.p99_ms, '.1f')} ms" for r in done)
    say(
        f"    median of {runs} bursts: {fmt(m.rps, ',.0f')} req/s, "
        f"p99 {fmt(m.p99_ms, '.1f')} ms (each: {each})"
    )
    return m


def measure_command(scenario: Scenario, stack: Stack, tmp: Path) -> list[Measurement]:
    """A command scenario's rows (bench/commands.py), timed while the servers stand idle."""
    say(f"  timing {scenario.name} ...")
    assert scenario.command is not None
    run_command = COMMANDS.get(scenario.command)
    if run_command is None:
        problem = f"no command {scenario.command!r} in bench/commands.py"
        return [Measurement(name=scenario.name, method=scenario.method, path=scenario.path, problem=problem)]
    context = CommandContext(gongxin=gongxin_command(), env=stack.env, tmp=tmp, cwd=REPO_ROOT)
    measured = []
    for row in run_command(context):
        m = Measurement(
            name=row.name,
            method=scenario.method,
            path=row.command or scenario.path,
            seconds=row.seconds,
            rps=row.details.get("rate"),  # messages per second (notify), not HTTP requests
            problem=row.problem,
            description=scenario.description,
            details=row.details,
            wrk_output=row.output,  # the command's last lines, in the same place as wrk's output
        )
        if row.targeted and scenario.target is not None:
            m.target = scenario.target.describe()
        say(f"    {row.name}: {fmt(row.seconds, '.2f')} s" + (f" ({row.problem})" if row.problem else ""))
        measured.append(m)
    return measured


def cost_per_request(m: Measurement) -> None:
    """Worker CPU per request (ms) from a profile's busy share and the measured req/s."""
    profile = m.details.get("profile")
    if profile and profile.get("busy") is not None and m.rps:
        profile["worker_ms_per_request"] = round(profile["busy"] / m.rps * 1000, 3)


def judge(
    first: Measurement, last: Measurement, measured: list[tuple[Scenario, Measurement]]
) -> float | None:
    """Ratios against the ceiling and verdicts against targets; returns the ceiling's req/s.

    The ceiling is the better of the two hello runs (start and end of the run): a noisy neighbour
    during one of them must not make the endpoints look closer to the framework's limit than they are.
    """
    candidates = [m.rps for m in (first, last) if m.rps and not m.flagged]
    ceiling_rps = max(candidates) if candidates else None
    for m in (first, last, *(m for _, m in measured)):
        if ceiling_rps and m.rps is not None and m.seconds is None:  # a command's rate is no request rate
            m.ratio = round(m.rps / ceiling_rps, 3)
        cost_per_request(m)
    for scenario, m in measured:
        if scenario.target is not None and m.target is not None:
            m.missed = scenario.target.misses(ratio=m.ratio, p99_ms=m.p99_ms, rps=m.rps, seconds=m.seconds)
            m.verdict = "MISS" if m.missed or m.flagged else "PASS"
    return ceiling_rps


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    scenarios = select(args.only)
    wrk = ensure_wrk()
    machine = machine_info(wrk)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    processes: list[Process] = []
    with tempfile.TemporaryDirectory(prefix="gongxin-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            stack = start_stack(args, tmp, stamp, processes, scenarios)
            say(f"ready; {args.duration} s per scenario after {args.warmup} s of warm-up")
            load1 = os.getloadavg()[0]
            if load1 > 0.5:
                say(f"  note: load average {load1:.2f} before measuring: other work here adds noise")
            tokens = TokenSource(stack.base)
            if any(s.needs_token for s in scenarios) and tokens.get() is None:
                say(f"  {tokens.problem}")
            values = PathValues(stack.base)
            profiler = Profiler(stamp, args.duration) if args.profile else None
            first = measure_ceiling(wrk, "hello (start)", stack, args, tmp, profiler)
            measured: list[tuple[Scenario, Measurement]] = []
            for scenario in scenarios:
                if scenario.command:
                    measured += [(scenario, m) for m in measure_command(scenario, stack, tmp)]
                elif scenario.burst:
                    m = measure_bursts(
                        wrk, scenario, stack, tmp, stamp, profiler, args.burst, args.burst_runs
                    )
                    measured.append((scenario, m))
                else:
                    m = measure_scenario(wrk, scenario, stack, tokens, values, args, tmp, profiler)
                    measured.append((scenario, m))
                if not stack.server.alive():
                    raise BenchError(f"gongxin serve died during {scenario.name}:\n{stack.server.log_tail()}")
            last = measure_ceiling(wrk, "hello (end)", stack, args, tmp, profiler)
        finally:
            say("stopping the servers ...")
            for process in reversed(processes):
                process.stop()

    ceiling_rps = judge(first, last, measured)
    rows = [first, *(m for _, m in measured), last]
    say("")
    say(table(rows))
    say("")
    say(
        f"ratio = req/s / ceiling ({fmt(ceiling_rps, ',.0f')} req/s, the better hello run); "
        f"{args.duration} s each, wrk -t{THREADS} -c{CONNECTIONS}, {machine['nproc']} cores shared with wrk"
    )
    say(f"database: {stack.database}; cache: {stack.cache}")
    if stack.seed:
        say(
            f"seed: {stack.seed['count']:,} organizations in {stack.seed['total_s']:.1f} s "
            f"(generate {stack.seed['generate_s']:.1f} s, write {stack.seed['write_s']:.1f} s, "
            f"{stack.seed['database']})"
        )
    flagged = [m.name for m in rows if m.flagged]
    if flagged:
        say(f"FLAGGED (socket errors or non-2xx/3xx; numbers not comparable): {', '.join(flagged)}")
        say(f"  server log: {stack.server_log.relative_to(REPO_ROOT)}")
    missed = [m.name for _, m in measured if m.verdict == "MISS"]
    if missed:
        say(f"targets missed (a measurement, not a failure): {', '.join(missed)}")
    profiled = [m for m in rows if "samples" in m.details.get("profile", {})]
    if profiled:
        say("")
        say("profiles (py-spy on the worker process during the measured run; --nonblocking):")
        for m in profiled:
            say(profiling.render(m.name, m.details["profile"]))

    report = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine,
        "backing_services": {"database": stack.database, "cache": stack.cache},
        "seed": stack.seed,
        "duration_s": args.duration,
        "profiled": bool(args.profile),
        "warmup_s": args.warmup,
        "threads": THREADS,
        "connections": CONNECTIONS,
        "server_env": {k: stack.env[k] for k in ("APP_ENV", "WORKERS", "LOG_FORMAT", "LOG_LEVEL")}
        | SERVER_ENV_OVERRIDES,
        "server_log": str(stack.server_log.relative_to(REPO_ROOT)),
        "ceiling": {
            "rule": "the better (higher req/s) of the hello runs at the start and at the end",
            "rps": ceiling_rps,
            "start_rps": first.rps,
            "end_rps": last.rps,
        },
        "results": [asdict(m) | {"errors": m.error_count, "flagged": m.flagged} for m in rows],
    }
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    out = RESULTS_DIR / f"{stamp}.json"
    out.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    say(f"results: {out.relative_to(REPO_ROOT)} (and bench/results/latest.json)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say(f"gongxin bench: {args.duration} s per scenario")
    try:
        with sigterm_as_exit():
            return run(args)
    except BenchError as exc:
        say(f"bench: {exc}")
        return 1
    except KeyboardInterrupt:
        say("bench: interrupted; the servers were stopped")
        return 130
    except SystemExit as exc:
        if isinstance(exc.code, int) and exc.code > 128:
            say(f"bench: stopped by signal {exc.code - 128}; the servers were stopped")
        raise


if __name__ == "__main__":
    sys.exit(main())
