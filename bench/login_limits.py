"""The `login-limits` scenario: which part of POST /api/v1/auth/login limits one worker.

A login is one WeChat call (GET /sns/jscode2session through wechatpy, on the WeChat service's
thread pool) and our part (the user's SELECT, the session's INSERT, the token, the session cache's
read and write in Redis). The rows take them apart, each a few seconds, in processes of their own:

1. ``login-limits: emulator ceiling (wrk c=64)``: wrk GETs /sns/jscode2session straight from an
   emulator process of its own (``python -m backend.wechat.emulator``): what the emulator (a
   threaded ``http.server``) answers at most. Its details carry the emulator's CPU per call.
2. ``login-limits: wechatpy client alone (N threads)``: ``WeChatService.code_to_session`` as the
   server builds it (``bootstrap.build_wechat``), 64 callers at once, in a process doing nothing
   else: calls per second and the process's CPU per call (every thread's). N is the server's own
   ``WECHAT_MAX_WORKERS`` default, then twice and four times that.
3. ``login-limits: gongxin serve (N threads)``: POST /api/v1/auth/login (dev-bench, as the `login`
   scenario) through a `gongxin serve` of its own (one worker, ``WECHAT_MAX_WORKERS=N``, the emulator
   process above as WeChat), wrk c=64, at the default N and twice that: logins per second and the
   worker's CPU per login, so that the thread count is chosen on a figure.
4. ``login-limits: login without WeChat (U users)``: ``accounts.service.login`` in process on the
   bench database and Redis with a WeChat that answers at once, 64 at once: logins per second and
   the CPU per login of our part alone. One user (as the `login` scenario) and 1,000 (as
   `login-1000-users`), every one already known (a returning user, the common case).

Rates are not HTTP requests, so the rows have no ratio; bench/README.md "What limits login" turns
the CPU per call into the share of the ceiling each part leaves.

Run as a script it is the in-process half (``client`` or ``ours``), printing one JSON line;
``ours --wechat-url URL`` logs in through the server's real WeChat client instead (both parts in one
process, to see what they cost together).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

CONNECTIONS = 64  # as wrk's -c in the HTTP rows
CEILING_SECONDS = 4
MEASURE_SECONDS = 3.0
WARMUP_SECONDS = 0.5
SERVE_READY_SECONDS = 60  # a loaded 2-core machine can take half a minute to start a server
APPID, SECRET = "wx-bench-login", "bench-login-secret"
BENCH_DIR = Path(__file__).resolve().parent


# --- the in-process half ---------------------------------------------------------------------------


async def _drive(call: Any, *, concurrency: int, seconds: float) -> dict[str, Any]:
    """``concurrency`` callers calling ``call(i)`` in a loop: warm-up, then ``seconds`` measured."""
    measuring = False
    stop = False
    done = 0

    async def caller(worker: int) -> None:
        nonlocal done
        i = worker
        while not stop:
            await call(i)
            i += concurrency
            if measuring:
                done += 1

    tasks = [asyncio.create_task(caller(w)) for w in range(concurrency)]
    await asyncio.sleep(WARMUP_SECONDS)
    measuring = True
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    measuring = False
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stop = True
    await asyncio.gather(*tasks)
    return {
        "calls": done,
        "seconds": round(wall, 3),
        "rate": round(done / wall, 1),
        "cpu_ms_per_call": round(cpu / done * 1000, 3) if done else None,
        "cpu_busy": round(cpu / wall, 2),  # above 1: threads ran while the GIL was released
    }


def _run(coro: Any) -> Any:
    try:
        import uvloop  # the server's event loop (Sanic uses it when installed)
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def client(url: str, threads: int, seconds: float, concurrency: int) -> dict[str, Any]:
    """The wechatpy client alone: code_to_session as the server builds it, ``threads`` threads."""
    from pydantic import SecretStr

    from backend import bootstrap
    from backend.config import load_settings

    update = {"wechat_api_base": url, "wechat_appid": APPID, "wechat_secret": SecretStr(SECRET)}
    settings = load_settings().model_copy(update={**update, "wechat_max_workers": threads})
    service = bootstrap.build_wechat(settings)

    async def go() -> dict[str, Any]:
        async def call(i: int) -> None:
            await service.code_to_session(f"dev-bench-{i % 1000}")

        return await _drive(call, concurrency=concurrency, seconds=seconds)

    try:
        result = _run(go())
    finally:
        service.close()
    return {**result, "threads": threads, "concurrency": concurrency}


def ours(users: int, seconds: float, concurrency: int, wechat_url: str | None = None) -> dict[str, Any]:
    """``accounts.service.login`` with a WeChat that answers at once: our part of a login alone.
    With ``wechat_url``: with the server's WeChat client on that emulator instead (both parts)."""
    from datetime import timedelta

    from pydantic import SecretStr

    from backend import bootstrap
    from backend.accounts import service as accounts_service
    from backend.config import load_settings
    from backend.wechat.client import Session
    from backend.wechat.emulator import openid_for

    settings = load_settings()

    class InstantWeChat:
        """Answers code2Session at once, for the user the code names (as the emulator's dev- codes)."""

        async def code_to_session(self, code: str) -> Session:
            name = code.removeprefix("dev-")
            return Session(openid=openid_for(settings.wechat_appid, name), session_key="k" * 24, unionid=None)

        async def get_phone_number(self, code: str) -> Any:
            raise NotImplementedError

    async def go() -> dict[str, Any]:
        container = await bootstrap.start(settings)
        wechat: Any = InstantWeChat()
        if wechat_url:
            wechat = bootstrap.build_wechat(
                settings.model_copy(
                    update={
                        "wechat_api_base": wechat_url,
                        "wechat_appid": APPID,
                        "wechat_secret": SecretStr(SECRET),
                    }
                )
            )
        secret = settings.secret_key.get_secret_value()
        ttl = timedelta(seconds=settings.token_ttl_seconds)
        names = ["dev-bench"] if users == 1 else [f"dev-bench-{i}" for i in range(users)]
        try:
            for name in names:  # every user known before the timing: returning users
                await accounts_service.login(code=name, wechat=wechat, secret=secret, ttl=ttl)

            async def call(i: int) -> None:
                await accounts_service.login(
                    code=names[i % users], wechat=wechat, secret=secret, ttl=ttl, cache=container.cache
                )

            result = await _drive(call, concurrency=concurrency, seconds=seconds)
        finally:
            await bootstrap.stop(container)
            if wechat_url:
                wechat.close()
        database = settings.database_url.split(":", 1)[0]
        return {**result, "users": users, "database": database, "redis": bool(settings.redis_url)}

    return dict(_run(go()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    c.add_argument("--threads", type=int, required=True)
    o = sub.add_parser("ours")
    o.add_argument("--users", type=int, default=1)
    o.add_argument("--wechat-url")
    for p in (c, o):
        p.add_argument("--seconds", type=float, default=MEASURE_SECONDS)
        p.add_argument("--concurrency", type=int, default=CONNECTIONS)
    args = parser.parse_args(argv)
    if args.command == "client":
        result = client(args.url, args.threads, args.seconds, args.concurrency)
    else:
        result = ours(args.users, args.seconds, args.concurrency, args.wechat_url)
    print(json.dumps({**result, "loadavg": os.getloadavg()}))


# --- the command scenario (run by bench/run.py) ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _half(ctx: Any, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run this file's in-process half in a process of its own; its JSON line."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        env={**env, "PYTHONPATH": str(ctx.cwd)},
        cwd=ctx.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"login_limits.py {args[0]} exited {done.returncode}: {done.stderr[-500:]}")
    return dict(json.loads(lines[-1]))


def _ceiling(base: str, emulator_pid: int) -> tuple[dict[str, Any], str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {}, "wrk is not installed"
    query = f"appid={APPID}&secret={SECRET}&js_code=dev-bench&grant_type=authorization_code"
    url = f"{base}/sns/jscode2session?{query}"
    cpu = _cpu_seconds(emulator_pid)
    done = subprocess.run(
        [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{CEILING_SECONDS}s", url],
        capture_output=True,
        text=True,
        timeout=CEILING_SECONDS + 30,
        check=False,
    )
    after = _cpu_seconds(emulator_pid)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    details: dict[str, Any] = {"rate": float(rate.group(1)) if rate else None, "loadavg": os.getloadavg()}
    if total and cpu is not None and after is not None and int(total.group(1)):
        details["emulator_cpu_ms_per_call"] = round((after - cpu) / int(total.group(1)) * 1000, 3)
    if "Non-2xx" in done.stdout:
        details["non_2xx"] = True
    return details, done.stdout


def _served(ctx: Any, base: str, threads: int) -> tuple[dict[str, Any], str]:
    """POST /api/v1/auth/login through a `gongxin serve` of its own (one worker, ``threads`` WeChat
    threads, the emulator process above as WeChat), wrk c=64: logins/s and the worker's CPU per login."""
    import profiling  # the harness's module

    wrk = shutil.which("wrk")
    if wrk is None:
        return {}, "wrk is not installed"
    port = _free_port()
    env = {
        **ctx.env,
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "WECHAT_EMULATOR": "false",
        "WECHAT_API_BASE": base,
        "WECHAT_APPID": APPID,
        "WECHAT_SECRET": SECRET,
        "WECHAT_MAX_WORKERS": str(threads),
    }
    log = (ctx.tmp / f"login-limits-serve-{threads}.log").open("wb")
    server = subprocess.Popen(
        [*ctx.gongxin, "serve"], env=env, cwd=ctx.cwd, stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_READY_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{url}/readyz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gongxin serve ({threads} threads) did not become ready") from None
                time.sleep(0.2)
        workers = profiling.worker_pids(server.pid)
        script = ctx.tmp / "login-limits.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            'wrk.body = \'{"code": "dev-bench"}\'\n'
        )
        command = [wrk, "-t2", f"-c{CONNECTIONS}", "-s", str(script)]
        subprocess.run(
            [*command, "-d1s", f"{url}/api/v1/auth/login"], capture_output=True, timeout=30, check=False
        )
        before = [profiling.cpu_seconds(pid) for pid in workers]
        done = subprocess.run(
            [*command, f"-d{CEILING_SECONDS}s", f"{url}/api/v1/auth/login"],
            capture_output=True,
            text=True,
            timeout=CEILING_SECONDS + 30,
            check=False,
        )
        after = [profiling.cpu_seconds(pid) for pid in workers]
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
        log.close()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    details: dict[str, Any] = {
        "rate": float(rate.group(1)) if rate else None,
        "threads": threads,
        "loadavg": os.getloadavg(),
    }
    if len(workers) == 1 and total and None not in (before[0], after[0]) and int(total.group(1)):
        details["worker_cpu_ms_per_call"] = round((after[0] - before[0]) / int(total.group(1)) * 1000, 3)
    if "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
        details["errors"] = True
    return details, done.stdout


def login_limits(ctx: Any) -> list[Any]:
    """The rows of the module docstring."""
    from commands import CommandRow  # the harness's module; not needed by the in-process half

    from backend.config import Settings

    threads = int(Settings.model_fields["wechat_max_workers"].default)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.wechat.emulator",
            "--port",
            str(port),
            "--appid",
            APPID,
            "--secret",
            SECRET,
        ],
        cwd=ctx.cwd,
        env={**ctx.env, "PYTHONPATH": str(ctx.cwd)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: list[Any] = []
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{base}/__emulator__/health", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)

        details, output = _ceiling(base, emulator.pid)
        problem = None if details.get("rate") and not details.get("non_2xx") else "no wrk figure, or errors"
        rows.append(
            CommandRow(
                f"login-limits: emulator ceiling (wrk c={CONNECTIONS})",
                CEILING_SECONDS,
                False,
                problem,
                details,
                output=output[-800:],
                command="wrk GET /sns/jscode2session (emulator process of its own)",
            )
        )
        for n in (threads, threads * 2, threads * 4):
            cpu = _cpu_seconds(emulator.pid)
            details = _half(ctx, ctx.env, "client", "--url", base, "--threads", str(n))
            after = _cpu_seconds(emulator.pid)
            if cpu is not None and after is not None and details["calls"]:
                # Includes the warm-up's calls: an upper bound.
                details["emulator_cpu_s"] = round(after - cpu, 2)
            rows.append(
                CommandRow(
                    f"login-limits: wechatpy client alone ({n} threads)",
                    details["seconds"],
                    False,
                    None,
                    details,
                    command=f"WeChatService.code_to_session, {CONNECTIONS} callers",
                )
            )
        for n in (threads, threads * 2):
            details, output = _served(ctx, base, n)
            problem = (
                None if details.get("rate") and not details.get("errors") else "no wrk figure, or errors"
            )
            rows.append(
                CommandRow(
                    f"login-limits: gongxin serve ({n} threads)",
                    CEILING_SECONDS,
                    False,
                    problem,
                    details,
                    output=output[-800:],
                    command=f"wrk POST /api/v1/auth/login, WECHAT_MAX_WORKERS={n}",
                )
            )
        for users in (1, 1000):
            details = _half(ctx, ctx.env, "ours", "--users", str(users))
            rows.append(
                CommandRow(
                    f"login-limits: login without WeChat ({users} user{'s' if users > 1 else ''})",
                    details["seconds"],
                    False,
                    None,
                    details,
                    command=f"accounts.service.login, instant WeChat, {CONNECTIONS} at once",
                )
            )
    except (RuntimeError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        rows.append(CommandRow("login-limits", None, False, f"{type(exc).__name__}: {exc}"[:300]))
    finally:
        _stop(emulator)
    return rows


if __name__ == "__main__":
    main()
