"""The benchmark scenarios, as data. `bench/run.py` measures each one with wrk against 127.0.0.1.

Add a scenario by appending a ``Scenario`` to ``SCENARIOS`` (see bench/README.md):

* ``body`` (a dict is sent as JSON, a str as is) makes run.py write a small Lua script that sets
  ``wrk.method``, ``wrk.body`` and the Content-Type header; a GET with no body needs no script.
* ``lua`` names a script file in bench/ instead, for requests that change from one call to the next;
  it is given the bearer token (if ``needs_token``) both as ``wrk.headers["Authorization"]`` and as
  ``args[1]`` of its ``init(args)``.
* ``needs_token``: run.py logs in once as ``dev-bench`` and sends ``Authorization: Bearer <token>``.
* ``needs_seed``: run.py adds 1,000,000 organizations (bench/seed.py) after the demo data, before the
  server starts; only when a selected scenario asks for them.
* ``path`` may name values that exist only once the server runs, as ``{name}`` (see ``PATH_VALUES``):
  run.py fills them in (URL-encoded) before the preflight and wrk.
* ``command`` makes it a timing of a console command instead of an HTTP load: the name of a function
  in bench/commands.py, which returns one table row or more (``Target(max_seconds=...)``).
* ``burst``: instead of wrk for N seconds, N members (users with their own tokens, made before the
  run by bench/checkin_data.py) each send the request exactly once, as fast as wrk can; the row's
  req/s is N / the burst's wall time and what the requests wrote is checked in the database.
* ``target``: what the scenario should reach. The run shows PASS or MISS against it but never fails
  on a miss: this is a measurement, not a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """Thresholds for one scenario; unset ones are not checked."""

    min_ratio: float | None = None  # req/s divided by the hello-world ceiling's req/s
    max_p99_ms: float | None = None  # 99th percentile latency, strictly below
    min_rps: float | None = None  # absolute req/s; only meaningful on one kind of machine
    max_seconds: float | None = None  # wall time of a command scenario, strictly below

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f"ratio >= {self.min_ratio:g}")
        if self.max_p99_ms is not None:
            parts.append(f"p99 < {self.max_p99_ms:g} ms")
        if self.min_rps is not None:
            parts.append(f"req/s >= {self.min_rps:g}")
        if self.max_seconds is not None:
            parts.append(f"time < {self.max_seconds:g} s")
        return ", ".join(parts) or "-"

    def misses(
        self,
        *,
        ratio: float | None = None,
        p99_ms: float | None = None,
        rps: float | None = None,
        seconds: float | None = None,
    ) -> list[str]:
        """The thresholds not met (a missing measurement misses)."""
        missed = []
        if self.min_ratio is not None and (ratio is None or ratio < self.min_ratio):
            missed.append(f"ratio >= {self.min_ratio:g}")
        if self.max_p99_ms is not None and (p99_ms is None or p99_ms >= self.max_p99_ms):
            missed.append(f"p99 < {self.max_p99_ms:g} ms")
        if self.min_rps is not None and (rps is None or rps < self.min_rps):
            missed.append(f"req/s >= {self.min_rps:g}")
        if self.max_seconds is not None and (seconds is None or seconds >= self.max_seconds):
            missed.append(f"time < {self.max_seconds:g} s")
        return missed


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    body: dict[str, Any] | str | None = None
    lua: str | None = None  # a file name in bench/, instead of method/body
    needs_token: bool = False
    target: Target | None = None
    headers: dict[str, str] = field(default_factory=dict)
    description: str = ""
    needs_seed: bool = False  # the 1,000,000 seeded organizations (bench/seed.py)
    connections: int | None = None  # wrk -c for this scenario; None: run.py's CONNECTIONS (64)
    command: str | None = None  # a function in bench/commands.py: a timed command, not an HTTP load
    # A burst instead of a timed load: this many members, each sending the request exactly once
    # (bench/checkin_burst.lua, data from bench/checkin_data.py); req/s is count / wall time.
    burst: int | None = None


# Values a path can name as {name}; run.py fetches each from the running server when a selected
# scenario needs it, and URL-encodes it.
PATH_VALUES = {
    "demo_qr_url": "the `url` of GET /api/v1/orgs/51440300MJL0000103/qrcode (the demo organization)",
    "charity_project": "the id of the demo foundation's demo fundraising project",
    "charity_big_project": "the id of `bench-100k`, the project donations-import-100k filled",
}
DEMO_FOUNDATION = "53440300MJL000007H"  # the demo foundation: public-fundraising qualification
DEMO_ORG = "51440300MJL0000103"  # from `gongxin demo-data`: a grade, an annual report, a QR code
SEED_COUNT = 1_000_000


# The server runs with LOGIN_RATE_LIMIT_PER_MINUTE=1000000 (all wrk connections come from 127.0.0.1).
SCENARIOS: list[Scenario] = [
    Scenario(
        name="healthz",
        method="GET",
        path="/healthz",
        description="liveness: routing, middleware, request id, JSON; no I/O",
    ),
    Scenario(
        name="readyz",
        method="GET",
        path="/readyz",
        description="readiness: one database and one cache round trip",
    ),
    Scenario(
        name="login",
        method="POST",
        path="/api/v1/auth/login",
        body={"code": "dev-bench"},
        description="the same user logs in again and again (emulator code2session + new session)",
    ),
    Scenario(
        name="login-1000-users",
        method="POST",
        path="/api/v1/auth/login",
        lua="login_rotating.lua",
        description="logins spread over 1000 users (dev-bench-0 .. dev-bench-999)",
    ),
    Scenario(
        name="me",
        method="GET",
        path="/api/v1/me",
        needs_token=True,
        description="the signed-in user and roles: token check + user and role reads",
    ),
    # The registry, over 1,000,000 seeded organizations. Warm: the same URL again and again, so after
    # the first request each answer comes from the shared Redis cache (one or two round trips).
    Scenario(
        name="verify",
        method="GET",
        path="/api/v1/verify?url={demo_qr_url}",
        needs_seed=True,
        target=Target(min_ratio=0.6, max_p99_ms=20),
        description="verify the demo organization's real QR URL, warm: Ed25519 check + cached view",
    ),
    Scenario(
        name="profile",
        method="GET",
        path=f"/api/v1/orgs/{DEMO_ORG}",
        needs_seed=True,
        target=Target(min_ratio=0.6, max_p99_ms=20),
        description="public profile of the demo organization, warm: one Redis MGET, bytes as cached",
    ),
    Scenario(
        name="search",
        method="GET",
        path="/api/v1/orgs?q=志愿&page_size=20",  # about 43,000 hits in 1,000,000; run.py URL-encodes
        needs_seed=True,
        target=Target(min_ratio=0.3),
        description="name substring 志愿 over 1,000,000 organizations, first page (20), warm (cached page)",
    ),
    Scenario(
        name="search-region",
        method="GET",
        path="/api/v1/orgs?q=志愿&region=440300&page_size=20",  # about 1,600 hits
        needs_seed=True,
        target=Target(min_ratio=0.3),
        description="志愿 within region 440300 (深圳市 and its districts), warm (cached page)",
    ),
    Scenario(
        name="search-uncached",
        method="GET",
        path="/api/v1/orgs?q=...",
        lua="search_rotating.lua",
        needs_seed=True,
        # As many as the server's database pool (DB_POOL_MAX, 10): at 64, requests queue for a
        # connection for seconds and wrk's 2 s timeout turns the row into errors.
        connections=10,
        description="no target; 10 connections: 4,800 different searches in turn (query, region, "
        "kind, page), so nearly every request misses the cache and runs the count and page queries",
    ),
    Scenario(
        name="search-index",
        method="GET",
        path="/api/v1/orgs?q=...",
        lua="search_index.lua",
        needs_seed=True,
        connections=10,
        target=Target(max_p99_ms=50),
        description="10 connections, uncached: 2-7 character name fragments, credit-code prefixes and "
        "regions over 1,000,000 organizations, pages 1-5 of 10-29 (4,400 distinct requests): the "
        "bigram index, prefix matches first, an estimated total",
    ),
    # Party building: everyone at a meeting scans the organizer's code within a few seconds.
    Scenario(
        name="checkin-burst",
        method="POST",
        path="/api/v1/activities/{activity_id}/checkins",  # a new open activity; run.py fills the id
        burst=1000,
        target=Target(min_ratio=0.3, max_p99_ms=50),
        description="1,000 members check in to one open activity, each exactly once, 64 connections "
        "(token check, activity read, code and geofence check, check-in + outbox event in one "
        "transaction); afterwards 1,000 check-ins and 1,000 checkin.recorded events must be in the "
        "database",
    ),
    # Recruitment: a posting with 100 seats goes up and a thousand members press the button at once.
    Scenario(
        name="signup-burst",
        method="POST",
        path="/api/v1/postings/{posting_id}/signups",  # a new open posting of 100 seats; run.py fills the id
        burst=1000,
        target=Target(min_ratio=0.3, max_p99_ms=100),
        description="1,000 different members sign up at once for 100 seats, each exactly once, 64 "
        "connections (token check, rate limit, then the sign-ups asked together as one transaction under "
        "the posting's row lock: decisions, sign-ups, outbox events, counters); afterwards exactly 100 "
        "confirmed and 900 waitlisted at positions 1-900 in sign-up order, 1,000 events",
    ),
    # Donation disclosure. The import runs first: it fills the project the page scenarios read.
    Scenario(
        name="donations-import-100k",
        method="CLI",
        path="import_donations(apply=True)",
        command="donations_import_100k",
        target=Target(max_seconds=30),
        description="a 100,000-row platform export (CSV, Chinese headers, yuan) into a new project on "
        "the bench database: parse in a thread, checks, one transaction (entries, totals, events)",
    ),
    Scenario(
        name="project-page-100k",
        method="GET",
        path="/api/v1/projects/{charity_big_project}",
        target=Target(min_ratio=0.5),
        description="a project with 100,000 entries and its totals (kept, not summed), warm",
    ),
    Scenario(
        name="project-h5-100k",
        method="GET",
        path="/p/{charity_big_project}",
        description="no target: its H5 page (totals, SVG charts, the newest 50 entries, uncached)",
    ),
    Scenario(
        name="donation",
        method="POST",
        path="/api/v1/projects/{charity_project}/donations",
        lua="donation_rotating.lua",
        needs_token=True,
        target=Target(min_ratio=0.3),
        description="staff record donations one by one, each new (entry, totals, month, outbox event, "
        "audit, two cache counters, in one transaction)",
    ),
    # The transparency log (bench/translog_bench.py, run with the server's environment).
    Scenario(
        name="translog-appends",
        method="CLI",
        path="backend.translog.log.append",
        command="translog_appends",
        target=Target(min_rps=2000),
        description="leaves appended per second by one process, each in its own transaction, 10 s, "
        "the checkpointer beside them; one log (appends to one log wait for each other's commit) and "
        "64 logs; the req/s column is appends per second",
    ),
    Scenario(
        name="translog-proofs",
        method="CLI",
        path="backend.translog.service",
        command="translog_proofs",
        target=Target(max_seconds=0.001),
        description="median time of an inclusion proof (random leaf) and of a consistency proof "
        "(random first size) in a 1,000,000-entry log, read from stored nodes in the server's process",
    ),
    Scenario(
        name="translog-verify",
        method="CLI",
        path="gongxin_verify",
        command="translog_verify",
        target=Target(max_seconds=5),
        description="gongxin-verify recomputes 1,000,000 served entries: bytes, leaf hashes, fields, the "
        "root and every project's totals",
    ),
    Scenario(
        name="import-10k",
        method="CLI",
        path="gongxin import-orgs FILE [--apply]",
        command="import_10k",
        target=Target(max_seconds=10),
        description="a 10,000-row CSV into a fresh, migrated SQLite database: dry run, then --apply "
        "(wall time of the command, interpreter start included)",
    ),
    Scenario(
        name="notify",
        method="CLI",
        path="gongxin worker",
        command="notify",
        target=Target(min_rps=500),
        description="subscribe messages per second delivered to the emulator by one `gongxin worker` "
        "process (5,000 check-in events, one consent each), beside the emulator's own ceiling (wrk) and "
        "the wechatpy client's alone (bench/notify_bench.py); the req/s column is messages per second",
    ),
    Scenario(
        name="login-limits",
        method="CLI",
        path="POST /api/v1/auth/login, taken apart",
        command="login_limits",
        description="what limits login in one worker (bench/login_limits.py): the emulator's own "
        "ceiling for jscode2session (wrk), the wechatpy client alone, login through a server of its "
        "own at 8 and 16 WeChat threads, and our part alone (a WeChat that answers at once); calls/s "
        "and CPU ms per call in the details",
    ),
]
