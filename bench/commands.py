"""Timed console commands: scenarios with ``command=`` in bench/scenarios.py name a function here.

Each function gets a ``CommandContext`` (how to run `gongxin`, the server's environment, a temporary
directory) and returns one ``CommandRow`` per line of the result table. A row's ``problem`` says why
its time is missing or not to be trusted (the command failed, or did not do what it should have).
A row whose ``details`` carry a ``rate`` (messages per second, bench/notify_bench.py) shows it in
the req/s column.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orgdata import organizations, write_csv

COMMAND_TIMEOUT_S = 120.0
IMPORT_ROWS = 10_000
IMPORT_SERIAL_PREFIX = "MJC"  # not the seed's MJB nor the demo data's MJL


@dataclass
class CommandContext:
    gongxin: list[str]  # the console command, e.g. [".venv/bin/gongxin"]
    env: dict[str, str]  # the server's environment (secrets, APP_ENV ...); commands adapt it
    tmp: Path  # removed after the run
    cwd: Path


@dataclass
class CommandRow:
    name: str
    seconds: float | None
    targeted: bool  # whether the scenario's target applies to this row
    problem: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    command: str = ""  # what was timed, for the report's path


@dataclass
class Timed:
    seconds: float
    returncode: int | None  # None: timed out
    output: str


def timed(ctx: CommandContext, args: list[str], env: dict[str, str]) -> Timed:
    """Wall time of one command, as a person at the console sees it (interpreter start included)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [*ctx.gongxin, *args],
            env=env,
            cwd=ctx.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        return Timed(time.perf_counter() - started, None, out or "")
    return Timed(time.perf_counter() - started, done.returncode, done.stdout + done.stderr)


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _failed(run: Timed, what: str) -> str | None:
    if run.returncode is None:
        return f"{what} timed out after {COMMAND_TIMEOUT_S:.0f} s"
    if run.returncode != 0:
        return f"{what} exited {run.returncode}: {_tail(run.output, 2)}"
    return None


def import_10k(ctx: CommandContext) -> list[CommandRow]:
    """`gongxin import-orgs FILE` (dry run) and `--apply` of 10,000 rows on a fresh migrated SQLite."""
    work = ctx.tmp / "import-10k"
    work.mkdir(parents=True, exist_ok=True)
    database = work / "import.sqlite3"
    env = {k: v for k, v in ctx.env.items() if k != "REDIS_URL"}  # the embedded cache, like SQLite users
    env["DATABASE_URL"] = f"sqlite://{database}"
    dry_name, apply_name = "import-10k (dry run)", "import-10k"
    dry_command = "gongxin import-orgs organizations-10k.csv"
    apply_command = dry_command + " --apply"

    def all_failed(problem: str, output: str = "") -> list[CommandRow]:
        return [
            CommandRow(dry_name, None, False, problem, output=output, command=dry_command),
            CommandRow(apply_name, None, True, problem, output=output, command=apply_command),
        ]

    for setup in (["migrate"], ["demo-data"]):
        run = timed(ctx, setup, env)
        if problem := _failed(run, f"gongxin {setup[0]}"):
            return all_failed(problem, run.output)

    csv_path = work / "organizations-10k.csv"
    write_csv(csv_path, organizations(IMPORT_ROWS, serial_prefix=IMPORT_SERIAL_PREFIX, seed=10_000))
    header_only = work / "header-only.csv"
    write_csv(header_only, iter(()))
    details: dict[str, Any] = {
        "rows": IMPORT_ROWS,
        "file_bytes": csv_path.stat().st_size,
        "database": "SQLite (fresh, migrated, demo data), in-process cache",
    }
    # The fixed part of each timing: interpreter start, imports, database open, reading authorities.
    baseline = timed(ctx, ["import-orgs", str(header_only)], env)
    details["header_only_file_s"] = None if _failed(baseline, "") else round(baseline.seconds, 3)

    expected = f"{IMPORT_ROWS} rows: {IMPORT_ROWS} to create, 0 to update, 0 unchanged, 0 errors"
    dry = timed(ctx, ["import-orgs", str(csv_path)], env)
    dry_problem = _failed(dry, "the dry run")
    if dry_problem is None and expected not in dry.output:
        dry_problem = f"unexpected dry-run report: {_tail(dry.output, 3)}"
    rows = [
        CommandRow(
            dry_name,
            round(dry.seconds, 3),
            False,
            dry_problem,
            dict(details),
            output=_tail(dry.output),
            command=dry_command,
        )
    ]

    apply = timed(ctx, ["import-orgs", str(csv_path), "--apply"], env)
    apply_problem = _failed(apply, "the import")
    if apply_problem is None and (expected not in apply.output or "\napplied" not in apply.output):
        apply_problem = f"unexpected import report: {_tail(apply.output, 3)}"
    if apply_problem is None:
        apply_problem = _check_written(database)
    rows.append(
        CommandRow(
            apply_name,
            round(apply.seconds, 3),
            True,
            apply_problem,
            dict(details),
            output=_tail(apply.output),
            command=apply_command,
        )
    )
    return rows


def _check_written(database: Path) -> str | None:
    """None when the 10,000 organizations are in the database, else what is wrong."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        count = conn.execute(
            "SELECT count(*) FROM organizations WHERE substr(credit_code, 9, 3) = ?", (IMPORT_SERIAL_PREFIX,)
        ).fetchone()[0]
    return None if count == IMPORT_ROWS else f"{count} of {IMPORT_ROWS} organizations written"


def _notify(ctx: CommandContext) -> list[CommandRow]:
    from notify_bench import notify  # imported late: it imports this module

    return notify(ctx)


def _login_limits(ctx: CommandContext) -> list[CommandRow]:
    from login_limits import login_limits  # imported late: it imports this module

    return login_limits(ctx)


def donations_import_100k(ctx: CommandContext) -> list[CommandRow]:
    """A 100,000-row donation export into a new project on the bench's database (bench/charity_import.py)."""
    name, command = "donations-import-100k", "import_donations(apply=True), 100,000 rows"
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "charity_import.py")],
            env=ctx.env,
            cwd=ctx.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [CommandRow(name, None, True, f"timed out after {COMMAND_TIMEOUT_S:.0f} s", command=command)]
    output = done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return [
            CommandRow(
                name,
                None,
                True,
                f"exited {done.returncode}: {_tail(output, 2)}",
                output=output,
                command=command,
            )
        ]
    details = json.loads(lines[-1])
    details["wall_s_with_setup"] = round(time.perf_counter() - started, 3)
    problem = (
        None
        if details.get("applied") and details.get("created") == details.get("rows")
        else "not all rows applied"
    )
    return [
        CommandRow(name, details["seconds"], True, problem, details=details, output=output, command=command)
    ]


def _translog(ctx: CommandContext, *args: str) -> tuple[dict[str, Any] | None, str, str | None]:
    """Run bench/translog_bench.py with the server's environment: its JSON line, output, problem."""
    try:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "translog_bench.py"), *args],
            env=ctx.env,
            cwd=ctx.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S * 3,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "", "timed out"
    output = done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return None, output, f"exited {done.returncode}: {_tail(output, 2)}"
    return json.loads(lines[-1]), output, None


def translog_appends(ctx: CommandContext) -> list[CommandRow]:
    """Appends per second from one process: into one log (every append waits for the previous
    commit) and spread over 64 logs; each checked gapless and matching its tree afterwards."""
    rows = []
    for logs, concurrency in ((1, 32), (64, 64)):
        name = f"translog-appends-{logs}-log{'s' if logs > 1 else ''}"
        details, output, problem = _translog(
            ctx, "appends", "--seconds", "10", "--logs", str(logs), "--concurrency", str(concurrency)
        )
        if details is not None:
            details["rate"] = details["appends_per_s"]
            problem = "; ".join(details["problems"]) or None
        command = f"translog_bench.py appends --logs {logs} --concurrency {concurrency}"
        seconds = details["seconds"] if details else None
        rows.append(CommandRow(name, seconds, True, problem, details or {}, _tail(output), command))
    return rows


def translog_proofs(ctx: CommandContext) -> list[CommandRow]:
    """Median time of one inclusion and one consistency proof in a 1,000,000-entry log (in process)."""
    details, output, problem = _translog(ctx, "proofs", "--leaves", "1000000", "--reuse")
    rows = []
    for kind in ("inclusion", "consistency"):
        seconds = details[kind]["median_ms"] / 1000 if details else None
        rows.append(
            CommandRow(
                f"translog-{kind}-proof-1m",
                seconds,
                True,
                problem,
                details or {},
                _tail(output),
                f"service.{kind}_proof_of, 1,000,000 leaves (median of 2,000)",
            )
        )
    return rows


def translog_verify(ctx: CommandContext) -> list[CommandRow]:
    """gongxin-verify's recompute of 1,000,000 served entries (bytes, hashes, fields, root, totals)."""
    details, output, problem = _translog(ctx, "verify", "--leaves", "1000000")
    seconds = details["recompute_s"] if details else None
    return [
        CommandRow(
            "translog-verify-1m",
            seconds,
            True,
            problem,
            details or {},
            _tail(output),
            "gongxin_verify.recompute + root + totals, 1,000,000 entries",
        )
    ]


COMMANDS: dict[str, Callable[[CommandContext], list[CommandRow]]] = {
    "translog_appends": translog_appends,
    "translog_proofs": translog_proofs,
    "translog_verify": translog_verify,
    "import_10k": import_10k,
    "notify": _notify,
    "login_limits": _login_limits,
    "donations_import_100k": donations_import_100k,
}
