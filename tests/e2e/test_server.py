"""The real thing: `gongxin serve` with its emulator, over real sockets, as `make run` starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int, emulator_port: int, log: Path) -> None:
        self.process, self.port, self.emulator_port, self.log = process, port, emulator_port, log
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("e2e")
    port, emulator_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{tmp / 'e2e.sqlite3'}",
        "PORT": str(port),
        "WECHAT_API_BASE": f"http://127.0.0.1:{emulator_port}",
        "LOG_FORMAT": "json",
        # Its own image: other tests write the default path (var/demo-qr.png) at the same time.
        "DEMO_QR_PATH": str(tmp / "demo-qr.png"),
    }
    env.pop("REDIS_URL", None)
    cli = [sys.executable, "-m", "backend.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    demo = subprocess.run(
        [*cli, "demo-data"], env=env, check=True, capture_output=True, text=True, timeout=120
    )
    log = tmp / "server.log"
    with log.open("w") as out:
        # Its own process group, so that killing it also ends Sanic's worker processes.
        process = subprocess.Popen(
            [*cli, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
    srv = Server(process, port, emulator_port, log)
    srv.demo_output = demo.stdout
    try:
        ready = wait_until(lambda: _ready(srv), timeout=90)  # a worker starts slowly on a busy machine
        assert ready, log.read_text()
        yield srv
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _ready(srv: Server) -> bool:
    try:
        return httpx.get(f"{srv.url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serves_health_docs_login_and_me(server: Server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/docs").status_code == 200
    assert "/api/v1/me" in httpx.get(f"{server.url}/docs/openapi.json").json()["paths"]
    login = httpx.post(f"{server.url}/api/v1/auth/login", json={"code": "dev-alice"})
    assert login.status_code == 200, login.text
    me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
    assert me.status_code == 200
    assert me.json()["roles"]["member"] is True


def test_real_server_refuses_an_oversized_body_with_413(server: Server):
    response = httpx.post(
        f"{server.url}/api/v1/auth/login",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_real_server_answers_unknown_routes_and_methods_in_the_error_shape(server: Server):
    assert httpx.get(f"{server.url}/api/v1/nope").json()["error"]["code"] == "route.not_found"
    assert httpx.put(f"{server.url}/api/v1/me").status_code == 405


def test_json_logs_carry_the_request_id(server: Server):
    response = httpx.get(f"{server.url}/api/v1/nope", headers={"X-Request-ID": "e2e-request-0001"})
    assert response.headers["x-request-id"] == "e2e-request-0001"
    time.sleep(0.3)
    entries = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert any(e.get("request_id") == "e2e-request-0001" for e in entries), entries[-5:]


def test_demo_qr_image_decodes_to_the_h5_page_which_chromium_renders(server: Server):
    from PIL import Image

    from tests.h5.browser import dump_dom, ensure_chromium, screenshot

    zxingcpp = pytest.importorskip("zxingcpp")
    lines = dict(line.split(":", 1) for line in server.demo_output.splitlines() if ":" in line)
    url = lines["demo organization H5 page"].strip()
    decoded = zxingcpp.read_barcodes(Image.open(lines["demo QR image"].strip()))
    assert decoded[0].text == url
    # PUBLIC_BASE_URL is unset: the demo's links and QR code name the port this server listens on.
    assert url.startswith(f"{server.url}/o/"), url
    local = url
    verdict = httpx.get(f"{server.url}/api/v1/verify", params={"url": url}).json()
    assert verdict["verdict"] == "good_standing", verdict
    if ensure_chromium() is None:
        pytest.skip("chromium is not installed and cannot be installed here (not root)")
    dom = dump_dom(local)
    assert 'lang="zh-CN"' in dom
    assert "真实有效" in dom and "深圳市公信志愿服务协会" in dom
    artifacts = Path(__file__).resolve().parents[1] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    screenshot(local, artifacts / "e2e-demo-h5.png", height=1400)
    assert (artifacts / "e2e-demo-h5.png").stat().st_size > 10_000


def test_a_check_in_reaches_the_member_as_a_wechat_message(server: Server):
    # `make run` delivers notifications inside the server (no Redis): the same path as `gongxin worker`.
    def token(name: str) -> dict[str, str]:
        login = httpx.post(f"{server.url}/api/v1/auth/login", json={"code": f"dev-{name}"})
        return {"Authorization": f"Bearer {login.json()['token']}"}

    lines = dict(line.split(":", 1) for line in server.demo_output.splitlines() if ":" in line)
    activity_id = int(lines["demo activity"].split()[1].rstrip(","))
    member, organizer = token("carol"), token("bob")
    listed = httpx.get(f"{server.url}/api/v1/me/subscriptions", headers=member).json()["items"]
    template = next(i["template_id"] for i in listed if i["event"] == "checkin.recorded")
    consented = httpx.post(
        f"{server.url}/api/v1/me/subscriptions", json={"accepted": [template]}, headers=member
    )
    assert consented.status_code == 200, consented.text
    code = httpx.get(f"{server.url}/api/v1/activities/{activity_id}/checkin-code", headers=organizer).json()
    body = {"code": code["code"], "latitude": 22.5431, "longitude": 114.0579, "accuracy": 5}
    checked_in = httpx.post(
        f"{server.url}/api/v1/activities/{activity_id}/checkins", json=body, headers=member
    )
    assert checked_in.status_code == 201, checked_in.text
    emulator = f"http://127.0.0.1:{server.emulator_port}/__emulator__"
    openid = httpx.get(f"{emulator}/openid", params={"name": "carol"}).json()["openid"]

    def delivered() -> list:
        return httpx.get(f"{emulator}/messages", params={"touser": openid}).json()["messages"]

    assert wait_until(lambda: bool(delivered()), timeout=20), server.log.read_text()[-3000:]
    [message] = delivered()
    assert message["template_id"] == template
    assert message["page"] == f"pages/activity/detail?id={activity_id}"
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'outcome="sent"' in metrics
    assert 'gongxin_http_request_duration_seconds_bucket{le="0.005",method="POST"' in metrics


def test_ctrl_c_stops_server_and_emulator_within_seconds(server: Server):
    assert port_open(server.emulator_port)
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    server.process.wait(timeout=10)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"stopping took {elapsed:.1f} s"
    assert not port_open(server.port)
    assert not port_open(server.emulator_port)
