"""The TypeScript SDK (sdk/) against the server it is generated from, on one live server per run.

- the generated files (sdk/src/schema.d.ts, sdk/src/operations.ts) are what openapi-typescript makes
  of the document this server serves: a route whose contract changed without `make sdk` fails here;
- the SDK and its sample type-check under `tsc --strict` (the sample's `@ts-expect-error` lines are
  calls the types must refuse), and WeChat's own typings of wx.request fit the wx transport;
- the sample walks a citizen's, an organizer's, a member's and an officer's flows through the SDK
  (login, /me, search, profile, verification, check-in code and check-in, sign-up, donation receipt,
  the transparency log's checkpoint)
  against the live server, over fetch and over wx.request, under node's test runner, beside the
  client's own rules over a fake transport (test/client.test.ts).

`npm ci` runs only when sdk/package-lock.json changed since the last install (a stamp in
sdk/node_modules). `SDK_UPDATE=1` (`make sdk`) writes the generated files instead of comparing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import RunningServer

SDK = Path(__file__).resolve().parents[2] / "sdk"
STAMP = SDK / "node_modules" / ".gongxin-lock-sha256"
TSC = SDK / "node_modules" / "typescript" / "bin" / "tsc"


def _run(*command: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command in sdk/; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=SDK,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {result.returncode}:\n{output[-6000:]}")
    return output


@pytest.fixture(scope="module")
def node_modules() -> None:
    """The pinned packages, from the committed lockfile (npm ci), kept while the lockfile is unchanged."""
    for tool in ("node", "npm"):
        assert shutil.which(tool), f"{tool} is not on PATH: the SDK's checks need node and npm"
    digest = hashlib.sha256((SDK / "package-lock.json").read_bytes()).hexdigest()
    if not (STAMP.exists() and STAMP.read_text() == digest and TSC.exists()):
        _run("npm", "ci", "--no-audit", "--no-fund", timeout=600)
        STAMP.write_text(digest)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("sdk"), leg_database=True, WORKERS="1")
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture(scope="module")
def compiled(node_modules: None) -> None:
    """The SDK, the sample and the compile-time checks, built under --strict (sdk/dist)."""
    shutil.rmtree(SDK / "dist", ignore_errors=True)
    _run("node", TSC, "-p", "tsconfig.test.json")
    _run("node", TSC, "-p", "tsconfig.wx.json")


def _demo_activity(server: RunningServer) -> str:
    lines = dict(line.split(":", 1) for line in server.demo_output.splitlines() if ":" in line)
    return lines["demo activity"].split()[1].rstrip(",")


def test_the_generated_types_are_those_of_the_served_document(node_modules: None, server: RunningServer):
    document = f"{server.url}/docs/openapi.json"
    if os.environ.get("SDK_UPDATE"):
        _run("node", "scripts/generate.mjs", document)
    _run("node", "scripts/generate.mjs", document, "--check")


def test_the_sdk_and_its_sample_type_check_under_strict(compiled: None):
    assert (SDK / "dist" / "test" / "flows.test.js").exists()
    assert (SDK / "dist" / "src" / "client.js").exists()


def test_the_sample_walks_every_role_through_the_sdk_against_the_live_server(
    compiled: None, server: RunningServer
):
    env = {"GONGXIN_BASE_URL": server.url, "GONGXIN_DEMO_ACTIVITY": _demo_activity(server)}
    tests = ("dist/test/client.test.js", "dist/test/flows.test.js")
    output = _run("node", "--test", "--test-reporter=spec", *tests, env=env, timeout=120)
    assert "✔ the same client over wx.request" in output, output
    assert "✔ an answer that may be a file is read as bytes" in output, output
    assert "ℹ fail 0" in output, output


def test_the_readme_shows_the_example_pages_that_are_type_checked():
    readme = (SDK / "README.md").read_text()
    examples = sorted((SDK / "examples" / "miniprogram").rglob("*.ts"))
    assert len(examples) == 2
    for example in examples:
        body = re.sub(r"\A/\*\*.*?\*/\n", "", example.read_text(), flags=re.S)
        shown = f"```ts\n// {example.relative_to(SDK)}\n{body}```"
        assert shown in readme, f"README.md no longer shows {example.relative_to(SDK)} as it is"
