"""The benchmark scenarios, as data. `bench/run.py` measures each one with wrk against 127.0.0.1.

Add a scenario by appending a ``Scenario`` to ``SCENARIOS`` (see bench/README.md):

* ``body`` (a dict is sent as JSON, a str as is) makes run.py write a small Lua script that sets
  ``wrk.method``, ``wrk.body`` and the Content-Type header; a GET with no body needs no script.
* ``lua`` names a script file in bench/ instead, for requests that change from one call to the next;
  it is given the bearer token (if ``needs_token``) both as ``wrk.headers["Authorization"]`` and as
  ``args[1]`` of its ``init(args)``.
* ``needs_token``: run.py logs in once as ``dev-bench`` and sends ``Authorization: Bearer <token>``.
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

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f"ratio >= {self.min_ratio:g}")
        if self.max_p99_ms is not None:
            parts.append(f"p99 < {self.max_p99_ms:g} ms")
        if self.min_rps is not None:
            parts.append(f"req/s >= {self.min_rps:g}")
        return ", ".join(parts) or "-"

    def misses(self, *, ratio: float | None, p99_ms: float | None, rps: float | None) -> list[str]:
        """The thresholds not met (a missing measurement misses)."""
        missed = []
        if self.min_ratio is not None and (ratio is None or ratio < self.min_ratio):
            missed.append(f"ratio >= {self.min_ratio:g}")
        if self.max_p99_ms is not None and (p99_ms is None or p99_ms >= self.max_p99_ms):
            missed.append(f"p99 < {self.max_p99_ms:g} ms")
        if self.min_rps is not None and (rps is None or rps < self.min_rps):
            missed.append(f"req/s >= {self.min_rps:g}")
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
]
