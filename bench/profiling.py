"""`bench/run.py --profile`: py-spy samples the server's worker process while wrk measures a scenario.

For each HTTP scenario (and the ceiling runs, which profile the hello app instead), py-spy records the
worker for the measured seconds (``--nonblocking``: the worker is not paused, so the numbers move
little) into ``bench/results/<time>.<scenario>.pyspy.txt``: collapsed stacks, one line per distinct
stack with its sample count, readable by flamegraph.pl or https://www.speedscope.app. The run prints a
summary per scenario and puts it in the JSON (``details.profile``):

- ``busy``: the share of samples in which the worker's main thread was running Python, not waiting
  in the event loop's selector (py-spy leaves idle threads out, so busy = samples / (rate x seconds));
- ``by_layer``: where the busy samples were, by the innermost frame of a known layer (our code, the
  ORM, the Redis client, asyncpg, Sanic, pydantic, the event loop ...);
- ``top_self``: the functions most often at the top of the stack;
- ``top_total``: the functions most often anywhere on the stack (each counted once per sample).

py-spy is installed into the venv on first use (`pip install py-spy`); without it, --profile says
so and the run measures as usual.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RATE = 200  # samples per second
TOP = 12

# (layer, pattern on the frame "function (file:line)", file as py-spy shortens it: "sanic/signals.py").
# A sample goes to the innermost frame of a library or of our code; stdlib frames (asyncio's streams,
# json, logging) count for their caller, unless nothing else is on the stack.
LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("app: backend", re.compile(r"\(backend/")),
    ("app: miniprogram_api", re.compile(r"\(miniprogram_api/")),
    ("tortoise (ORM)", re.compile(r"\(tortoise/")),
    ("pypika (SQL building)", re.compile(r"\(pypika")),
    ("asyncpg", re.compile(r"\(asyncpg/")),
    ("aiosqlite / sqlite3", re.compile(r"\(aiosqlite/|\(sqlite3/")),
    ("fakeredis", re.compile(r"\(fakeredis/")),
    ("redis client", re.compile(r"\(redis/")),
    ("pydantic", re.compile(r"\(pydantic")),
    ("orjson", re.compile(r"orjson")),
    ("cryptography", re.compile(r"\(cryptography/")),
    ("sanic-ext", re.compile(r"\(sanic_ext/")),
    ("sanic routing", re.compile(r"\(sanic_routing/")),
    # The event loop's own work (uvloop is C: its callbacks show as this bare frame).
    ("event loop (uvloop)", re.compile(r"^_run_server_forever \(sanic/server/runners\.py")),
    ("sanic", re.compile(r"\(sanic/")),
    # Sanic compiles some hot methods from source at start-up ("touch-ups"): http1_request_header,
    # send, handle_request ... show with the function name as their file name.
    ("sanic", re.compile(r"^(\S+) \(\1(:\d+)?\)$")),
]
STDLIB_LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("stdlib: asyncio", re.compile(r"\(asyncio/")),
    ("stdlib: json", re.compile(r"\(json/")),
    ("stdlib: logging", re.compile(r"\(logging/")),
]
# Frames under every request (process start, the server loop, the connection task): left out of
# "top_total", where they would only say 100 %.
ROOT_FUNCTIONS = frozenset(
    {
        "<module>",
        "spawn_main",
        "_main",
        "BaseProcess._bootstrap",
        "BaseProcess.run",
        "worker_serve",
        "_serve_http_1",
        "_run_server_forever",
        "connection_task",
    }
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    """The py-spy executable beside this Python, installing it into the venv if needed."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    if found := shutil.which("py-spy"):
        return found
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "py-spy"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return str(beside) if done.returncode == 0 and beside.exists() else None


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in task.read_text().split()]
    return found


def worker_pids(root: int) -> list[int]:
    """Sanic's server workers under ``root``: the processes started with SANIC_WORKER_NAME=Sanic-Server-*."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        for child in _children(pid):
            stack.append(child)
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(item.startswith(b"SANIC_WORKER_NAME=Sanic-Server-") for item in environ):
                pids.append(child)
    return pids


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process has used so far, from /proc; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def record(py_spy_path: str, pid: int, seconds: int, out: Path) -> Iterator[None]:
    """py-spy samples ``pid`` for ``seconds`` while the body runs (the measured wrk run)."""
    proc = subprocess.Popen(
        [
            py_spy_path,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(RATE),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield
    finally:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)  # py-spy writes what it has on SIGINT
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


def _frames(stack: str) -> list[str]:
    """Frames root first, without py-spy's process and thread frames."""
    return [f for f in stack.split(";") if not f.startswith(("process ", "thread ("))]


def _short(frame: str) -> str:
    """'func (path/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py:12)' (py-spy mostly did it)."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{match['func']} ({file}{':' + match['line'] if match['line'] else ''})"


def _function(frame: str) -> str:
    """A frame without its line number, so that one function's lines add up."""
    return re.sub(r":\d+\)$", ")", _short(frame))


def _layer(frames: list[str]) -> str:
    for layers in (LAYERS, STDLIB_LAYERS):
        for frame in reversed(frames):  # innermost first
            for name, pattern in layers:
                if pattern.search(frame):
                    return name
    return "other"


def summarize(path: Path, *, seconds: float) -> dict[str, Any]:
    """Busy share, layers, top self and top total functions of a py-spy raw (collapsed) file."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        samples += count
        self_counts[_function(frames[-1])] += count
        for function in {_function(f) for f in frames}:
            if function.split(" (", 1)[0] not in ROOT_FUNCTIONS:
                total_counts[function] += count
        layers[_layer(frames)] += count

    def share(counter: Counter[str], top: int) -> list[dict[str, Any]]:
        return [
            {"name": name, "samples": n, "share": round(n / samples, 3)}
            for name, n in counter.most_common(top)
        ]

    return {
        "file": str(path),
        "rate_hz": RATE,
        "samples": samples,
        "busy": round(samples / (RATE * seconds), 3) if seconds else None,
        "by_layer": share(layers, len(layers)),
        "top_self": share(self_counts, TOP),
        "top_total": share(total_counts, TOP),
    }


def render(name: str, summary: dict[str, Any]) -> str:
    """A few lines for the console."""
    cost = summary.get("worker_ms_per_request")
    lines = [
        f"{name}: worker busy {summary['busy']:.0%} of the time"
        + (f", {cost:.3f} ms of worker CPU per request" if cost is not None else "")
        + f" ({summary['samples']} samples at {summary['rate_hz']} Hz); {summary['file']}"
    ]
    lines.append("  by layer:  " + ", ".join(f"{x['name']} {x['share']:.0%}" for x in summary["by_layer"]))
    lines.append("  self:")
    lines += [f"    {x['share']:5.1%}  {x['name']}" for x in summary["top_self"][:8]]
    lines.append("  total (on the stack):")
    lines += [f"    {x['share']:5.1%}  {x['name']}" for x in summary["top_total"][:10]]
    return "\n".join(lines)
