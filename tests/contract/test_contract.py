"""The server keeps its OpenAPI contract: a bounded schemathesis run over every route, per role.

`gongxin serve` runs with the demo data (tests/e2e/servers.py) on this leg's kind of database
(SQLite, or a PostgreSQL database of its own on the PostgreSQL leg).
schemathesis reads /docs/openapi.json and sends generated requests with every check on
(`--checks all`: no 5xx, only documented statuses, content types, headers and bodies matching
their schemas, schema-violating requests refused, schema-valid ones accepted, 405 with Allow ...):

- as anonymous, every operation that needs no token (boundary values, random ones, and sequences);
- as a plain member, every operation that needs a token (random values: most answer 403);
- as the demo organization's staff (dev-bob), the party-building and recruitment operations (boundary
  and random);
- as an officer of 深圳市民政局 (dev-alice), the officer and admin operations (boundary and random).

An operation added to the app joins by its tags and whether it needs a token. The four runs go
side by side (a run spends most of its time waiting for the server). The seed is fixed and the
number of examples bounded. A failure names the role, the routes and the checks, followed by
schemathesis's report with a `curl` and an `st replay <id>` for each case.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.servers import RunningServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SEED = "20261202"
EXAMPLES = os.environ.get("CONTRACT_EXAMPLES", "5")
Operation = dict[str, Any]


def _public(op: Operation) -> bool:
    return not op.get("security")


def _secured(op: Operation) -> bool:
    return bool(op.get("security")) and op["operationId"] != "logout"  # it would end the run's session


def _tagged(*tags: str) -> Callable[[Operation], bool]:
    return lambda op: _secured(op) and bool(set(op.get("tags", ())) & set(tags))


# role: (the dev user it logs in as, which operations, which phases)
ROLES: dict[str, tuple[str | None, Callable[[Operation], bool], str]] = {
    "anonymous": (None, _public, "coverage,fuzzing,stateful"),
    "member": ("contract-member", _secured, "fuzzing"),
    "staff": ("bob", _tagged("party building", "recruitment"), "coverage,fuzzing"),
    "officer": ("alice", _tagged("officer", "admin"), "coverage,fuzzing"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("contract"), leg_database=True, WORKERS="1")
    try:
        yield running.start()
    finally:
        running.stop()


def _command(server: RunningServer, spec: dict[str, Any], role: str) -> list[str]:
    user, selects, phases = ROLES[role]
    operations = [op for ops in spec["paths"].values() for op in ops.values() if selects(op)]
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{server.url}/docs/openapi.json",
        "--checks",
        "all",
        "--phases",
        phases,
        "--seed",
        SEED,
        "--max-examples",
        EXAMPLES,
        "--no-shrink",
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    for op in operations:
        command += ["--include-operation-id", op["operationId"]]
    if user is not None:
        command += ["--header", f"Authorization: Bearer {server.token(user)}"]
    return command


@pytest.fixture(scope="module")
def runs(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """The four runs, side by side: role -> schemathesis's exit status and report."""
    spec = httpx.get(f"{server.url}/docs/openapi.json", timeout=30).json()
    workdir = tmp_path_factory.mktemp("schemathesis")  # where it keeps its cache, not the work tree
    started = {
        role: subprocess.Popen(
            _command(server, spec, role),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=workdir,
        )
        for role in ROLES
    }
    results = {}
    for role, process in started.items():
        output, _ = process.communicate(timeout=900)
        results[role] = subprocess.CompletedProcess(process.args, process.returncode, output)
    return results


def _failures(report: str) -> str:
    """schemathesis's FAILURES section, with the payloads it echoes cut short."""
    section = report.split("= FAILURES =", 1)[-1].split("= WARNINGS =", 1)[0].split("= SUMMARY =", 1)[0]
    return "\n".join(line[:300] for line in section.splitlines())


@pytest.mark.parametrize("role", ROLES)
def test_every_route_keeps_the_openapi_contract(runs, role: str):
    result = runs[role]
    report = result.stdout
    routes = sorted(set(re.findall(r"^_+ ([A-Z]+ \S+) _+$", report, re.M)))
    checks = sorted(set(re.findall(r"^- (ST\d+ .+|Server error)$", report, re.M)))
    assert result.returncode == 0, (
        f"as {role}, the server broke its OpenAPI document on {', '.join(routes) or '(no route: see below)'}"
        f" [{'; '.join(checks)}]\n{_failures(report) if routes else report[-3000:]}"
    )
    assert re.search(r"\d+ generated", report), report[-2000:]
