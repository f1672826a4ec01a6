"""The `notify` scenario: subscribe messages delivered to the emulator by one worker process.

Three rows, measured in the same run so that the figure says which side limits it:

1. ``notify: emulator ceiling``: wrk POSTs subscribe messages straight to a WeChat emulator process
   of its own (``python -m backend.wechat.emulator --auto-consent``), NOTIFY_CONNECTIONS
   connections: what the emulator (a threaded ``http.server``) can take at most.
2. ``notify: wechatpy client alone``: the worker's client (wechatpy over ``requests``, a thread
   pool of NOTIFY_CONNECTIONS) sending as fast as it can in one process, with no database and no
   queue: what the client side can give at most.
3. ``notify: worker (1 process)``: NOTIFY_COUNT check-in events recorded in the bench database
   (members with one consent each), then one `gongxin worker` (arq on the bench Redis, or the
   embedded loop without Redis) started with the emulator as WeChat; the rate is the messages sent
   divided by the time from the first claim to the last recorded send (``notify_data.py watch``).
   Its details carry the worker's and the emulator's CPU seconds over that time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from commands import CommandContext, CommandRow

NOTIFY_COUNT = int(os.environ.get("BENCH_NOTIFY_COUNT", "5000"))
NOTIFY_CONNECTIONS = 16  # the worker's NOTIFY_CONCURRENCY default
CEILING_SECONDS = 5
APPID, SECRET = "wx-bench-notify", "bench-notify-secret"
BENCH_DIR = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _helper(ctx: CommandContext, env: dict[str, str], *args: str, timeout: float = 300) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "notify_data.py"), *args],
        env={**env, "PYTHONPATH": str(ctx.cwd)},
        cwd=ctx.cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"notify_data.py {args[0]} exited {done.returncode}: {done.stderr[-500:]}")
    return dict(json.loads(done.stdout))


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _ceiling(base: str, tmp: Path) -> tuple[float | None, str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None, "wrk is not installed"
    token = _post(
        f"{base}/cgi-bin/stable_token", {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    )
    body = json.dumps(
        {
            "touser": "o" + "x" * 27,
            "template_id": "gx-checkin-recorded",
            "data": {"thing1": {"value": "主题党日：bench"}, "phrase3": {"value": "已签到"}},
        },
        ensure_ascii=False,
    )
    script = tmp / "notify-ceiling.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body, ensure_ascii=False)}\n",
        encoding="utf-8",
    )
    url = f"{base}/cgi-bin/message/subscribe/send?access_token={token['access_token']}"
    done = subprocess.run(
        [wrk, "-t2", f"-c{NOTIFY_CONNECTIONS}", f"-d{CEILING_SECONDS}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=CEILING_SECONDS + 30,
        check=False,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    return (float(match.group(1)) if match else None), done.stdout


def notify(ctx: CommandContext) -> list[CommandRow]:
    """The three rows of the module docstring."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.wechat.emulator",
            "--port",
            str(port),
            "--auto-consent",
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
    rows: list[CommandRow] = []
    worker: subprocess.Popen[bytes] | None = None
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

        rate, output = _ceiling(base, ctx.tmp)
        rows.append(
            CommandRow(
                f"notify: emulator ceiling (wrk c={NOTIFY_CONNECTIONS})",
                CEILING_SECONDS,
                False,
                None if rate else "no wrk figure",
                {"rate": rate},
                output=output[-800:],
                command="wrk POST /cgi-bin/message/subscribe/send",
            )
        )
        _post(f"{base}/__emulator__/reset", {})

        client = _helper(
            ctx,
            ctx.env,
            "client",
            "--url",
            base,
            "--appid",
            APPID,
            "--secret",
            SECRET,
            "--count",
            str(min(NOTIFY_COUNT, 3000)),
            "--concurrency",
            str(NOTIFY_CONNECTIONS),
        )
        rows.append(
            CommandRow(
                f"notify: wechatpy client alone ({NOTIFY_CONNECTIONS} threads)",
                client["seconds"],
                False,
                None,
                client,
                command="notify_data.py client",
            )
        )
        _post(f"{base}/__emulator__/reset", {})

        env = {
            **ctx.env,
            "WECHAT_APPID": APPID,
            "WECHAT_SECRET": SECRET,
            "WECHAT_API_BASE": base,
            "WECHAT_EMULATOR": "false",
            "LOG_LEVEL": "WARNING",
        }
        run = secrets.token_hex(4)
        prepared = _helper(ctx, env, "prepare", "--count", str(NOTIFY_COUNT), "--run", run, "--appid", APPID)
        log = (ctx.tmp / "notify-worker.log").open("wb")
        worker = subprocess.Popen([*ctx.gongxin, "worker"], env=env, cwd=ctx.cwd, stdout=log, stderr=log)
        cpu_before = {"worker": _cpu_seconds(worker.pid), "emulator": _cpu_seconds(emulator.pid)}
        watched = _helper(ctx, env, "watch", "--run", run, "--count", str(NOTIFY_COUNT), "--timeout", "240")
        cpu = {
            name: round(after - before, 2) if after is not None and before is not None else None
            for name, before, after in (
                ("worker_cpu_s", cpu_before["worker"], _cpu_seconds(worker.pid)),
                ("emulator_cpu_s", cpu_before["emulator"], _cpu_seconds(emulator.pid)),
            )
        }
        sent = watched["by_status"].get("sent", 0)
        span = watched["sending_s"]
        problem = None
        if watched["timed_out"] or sent != NOTIFY_COUNT:
            problem = f"{sent} of {NOTIFY_COUNT} sent ({watched['by_status']})"
        messages = json.loads(urllib.request.urlopen(f"{base}/__emulator__/messages", timeout=30).read())[
            "messages"
        ]
        if len(messages) != sent or len({m["touser"] for m in messages}) != len(messages):
            problem = f"the emulator got {len(messages)} messages for {sent} sent"
        details = {
            **prepared,
            **watched,
            **cpu,
            "queue": "arq on Redis" if env.get("REDIS_URL") else "embedded loop (no Redis)",
            "database": env["DATABASE_URL"].split(":", 1)[0],
            "rate": round(sent / span, 1) if span else None,
            "loadavg": os.getloadavg(),
        }
        rows.append(
            CommandRow(
                "notify: worker (1 process)",
                span,
                True,
                problem,
                details,
                command=f"gongxin worker, {NOTIFY_COUNT} events",
            )
        )
    except (RuntimeError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        rows.append(
            CommandRow("notify: worker (1 process)", None, True, f"{type(exc).__name__}: {exc}"[:300])
        )
    finally:
        if worker is not None:
            _stop(worker)
        _stop(emulator)
    return rows
