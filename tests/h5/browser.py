"""Headless Debian ``chromium`` for H5 page tests: find or install it, screenshot, dump the DOM.

Installing: when ``chromium`` is missing and we run as root (CI and developer machines here), it is
installed once with apt, together with a CJK font so screenshots show Chinese rather than boxes. An
exclusive lock file serializes parallel test runs (pytest-xdist workers, two checkouts); whoever gets
the lock second finds the binary already there. apt's own dpkg lock is waited on, not failed on.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Noto CJK is what Debian's desktop uses for Chinese; without any CJK font Chinese renders as boxes.
APT_PACKAGES = ("chromium", "fonts-noto-cjk")
LOCK_FILE = Path(tempfile.gettempdir()) / "gongxin-chromium-install.lock"
INSTALL_TIMEOUT_S = 1500
RUN_TIMEOUT_S = 60
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container has no user namespaces for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def _find() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def _has_cjk_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    out = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, timeout=30, check=False)
    return bool(out.stdout.strip())


def _apt_install(packages: list[str]) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for a concurrent apt/dpkg (another job on the machine) instead of failing on its lock.
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    steps = [
        ["apt-get", *wait, "update"],
        ["apt-get", *wait, "install", "-y", "--no-install-recommends", *packages],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, env=env, capture_output=True, timeout=INSTALL_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if done.returncode != 0:
            return False
    return True


@functools.cache
def ensure_chromium() -> str | None:
    """Return the chromium binary, installing it with apt (as root, once, under a lock) if missing."""
    found = _find()
    if found and _has_cjk_font():
        return found
    if os.geteuid() != 0:
        return found  # cannot install; screenshots may lack CJK glyphs but the DOM tests still run
    with LOCK_FILE.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            # Re-check under the lock: a parallel run may have installed it while we waited.
            missing = [] if _find() else ["chromium"]
            if not _has_cjk_font():
                missing.append("fonts-noto-cjk")
            if missing:
                _apt_install(missing)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return _find()


def _as_url(url_or_file: str | Path) -> str:
    text = str(url_or_file)
    if "://" in text:
        return text
    return Path(text).resolve().as_uri()


def _run(args: list[str], *, timeout: float = RUN_TIMEOUT_S) -> str:
    binary = ensure_chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed and could not be installed")
    with tempfile.TemporaryDirectory(prefix="gongxin-chromium-") as profile:
        # A fresh profile per run: no state leaks between tests, parallel runs do not share a lock.
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        # Own process group, so a hang kills chromium's renderer and GPU helpers too, not just the parent.
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TimeoutError(f"chromium did not finish within {timeout} s: {' '.join(args)}") from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited with {proc.returncode}: {err[-2000:]}")
    return out


def screenshot(url_or_file: str | Path, out_png: Path, *, width: int = 390, height: int = 844) -> None:
    """Save a PNG of the page as a phone of the given viewport shows it."""
    out_png.parent.mkdir(parents=True, exist_ok=True)
    out_png.unlink(missing_ok=True)
    _run([f"--screenshot={out_png}", f"--window-size={width},{height}", _as_url(url_or_file)])
    if not out_png.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {out_png}")


def dump_dom(url: str | Path) -> str:
    """Return the DOM chromium built for the page, serialized after load."""
    return _run(["--dump-dom", _as_url(url)])
