"""The emulator over real HTTP: WeChat's response shapes, state rules, admin API, faults, lifecycle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.wechat.emulator import EmulatorAdminError, WeChatEmulator, openid_for

APPID, SECRET = "wx-test-appid", "test-secret-123"  # what the conftest's emulator fixture uses
TEMPLATE = "tmpl-order-ready"
DATA = {"thing1": {"value": "订单已就绪"}, "time2": {"value": "2026-01-01 10:00"}}

REPO = Path(__file__).resolve().parents[2]


def get(emu: WeChatEmulator, route: str, **params: Any) -> requests.Response:
    return requests.get(emu.url + route, params=params, timeout=5)


def post(emu: WeChatEmulator, route: str, body: Any = None, **params: Any) -> requests.Response:
    return requests.post(emu.url + route, params=params, json=body, timeout=5)


def stable_token(emu: WeChatEmulator, force: bool = False) -> str:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force}
    return post(emu, "/cgi-bin/stable_token", body).json()["access_token"]


def test_token_and_credentials(emulator: WeChatEmulator) -> None:
    ok = get(emulator, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET).json()
    assert set(ok) == {"access_token", "expires_in"} and 7000 < ok["expires_in"] <= 7200
    bad_appid = get(emulator, "/cgi-bin/token", grant_type="client_credential", appid="x", secret=SECRET)
    assert bad_appid.json()["errcode"] == 40013
    bad_secret = get(emulator, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret="x")
    assert bad_secret.json()["errcode"] == 40001


def test_new_basic_token_invalidates_previous(emulator: WeChatEmulator) -> None:
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    first = get(emulator, "/cgi-bin/token", **params).json()["access_token"]
    second = get(emulator, "/cgi-bin/token", **params).json()["access_token"]
    body = {"version": 2, "openid": openid_for(APPID, "a"), "scene": 2, "content": "hi"}
    assert post(emulator, "/wxa/msg_sec_check", body, access_token=first).json()["errcode"] == 40001
    assert post(emulator, "/wxa/msg_sec_check", body, access_token=second).json()["errcode"] == 0


def test_stable_token_same_until_forced_and_expiry(emulator: WeChatEmulator) -> None:
    first = stable_token(emulator)
    assert stable_token(emulator) == first
    forced = stable_token(emulator, force=True)
    assert forced != first
    body = {"version": 2, "openid": openid_for(APPID, "a"), "scene": 2, "content": "hi"}
    assert post(emulator, "/wxa/msg_sec_check", body, access_token=first).json()["errcode"] == 40001
    assert post(emulator, "/wxa/msg_sec_check", body, access_token="nope").json()["errcode"] == 40001
    emulator.expire_tokens()
    assert post(emulator, "/wxa/msg_sec_check", body, access_token=forced).json()["errcode"] == 42001
    assert stable_token(emulator) != forced  # an expired stable token is replaced by a plain fetch


def test_jscode2session_dev_and_issued_codes(emulator: WeChatEmulator) -> None:
    def login(code: str) -> dict[str, Any]:
        params = {"appid": APPID, "secret": SECRET, "js_code": code, "grant_type": "authorization_code"}
        return get(emulator, "/sns/jscode2session", **params).json()

    first, again = login("dev-alice"), login("dev-alice")
    assert first["openid"] == again["openid"] == openid_for(APPID, "alice")
    assert len(first["openid"]) == 28 and "errcode" not in first
    assert first["session_key"] and first["unionid"]
    assert login("dev-bob")["openid"] != first["openid"]
    issued = post(emulator, "/__emulator__/wx-login", {"name": "carol"}).json()
    assert login(issued["code"])["openid"] == issued["openid"] == openid_for(APPID, "carol")
    assert login(issued["code"])["errcode"] == 40029
    assert login("never-issued")["errcode"] == 40029


def test_phone_number(emulator: WeChatEmulator) -> None:
    token = stable_token(emulator)
    path = "/wxa/business/getuserphonenumber"
    dev = post(emulator, path, {"code": "dev-phone-13812345678"}, access_token=token).json()
    info = dev["phone_info"]
    assert dev["errcode"] == 0 and info["purePhoneNumber"] == "13812345678"
    assert info["phoneNumber"] == "+86 13812345678" and info["countryCode"] == "86"
    assert info["watermark"]["appid"] == APPID
    code = post(emulator, "/__emulator__/phone-code", {"phone": "13900001111"}).json()["code"]
    issued = post(emulator, path, {"code": code}, access_token=token).json()
    assert issued["phone_info"]["purePhoneNumber"] == "13900001111"
    assert post(emulator, path, {"code": code}, access_token=token).json()["errcode"] == 40029
    assert post(emulator, path, {"code": code}).json()["errcode"] == 40001  # no token


def test_subscribe_consents_and_messages_admin(emulator: WeChatEmulator) -> None:
    token, openid = stable_token(emulator), openid_for(APPID, "alice")
    msg = {"touser": openid, "template_id": TEMPLATE, "data": DATA, "page": "pages/order/index"}
    send = "/cgi-bin/message/subscribe/send"
    assert post(emulator, send, msg, access_token=token).json()["errcode"] == 43101
    granted = post(emulator, "/__emulator__/consents", {"name": "alice", "template_id": TEMPLATE, "count": 2})
    assert granted.json()["remaining"] == 2 and granted.json()["openid"] == openid
    ok = post(emulator, send, msg, access_token=token).json()
    assert ok["errcode"] == 0 and isinstance(ok["msgid"], int)
    assert get(emulator, "/__emulator__/consents").json()["consents"][0]["remaining"] == 1
    for change, errcode in (
        ({"data": {"thing1": "x"}}, 47003),
        ({"touser": "bad"}, 40003),
        ({"template_id": ""}, 40037),
        ({"lang": "fr"}, 47001),
    ):
        assert post(emulator, send, {**msg, **change}, access_token=token).json()["errcode"] == errcode
    listed = get(emulator, "/__emulator__/messages", touser=openid).json()["messages"]
    assert [m["msgid"] for m in listed] == [ok["msgid"]] and listed[0]["data"] == DATA
    assert get(emulator, "/__emulator__/messages", template_id="other").json()["messages"] == []
    assert requests.delete(emulator.url + "/__emulator__/messages", timeout=5).ok
    assert emulator.messages() == []


def test_auto_consent_switch(emulator: WeChatEmulator) -> None:
    token, openid = stable_token(emulator), openid_for(APPID, "dave")
    msg = {"touser": openid, "template_id": TEMPLATE, "data": DATA}
    assert post(emulator, "/__emulator__/settings", {"auto_consent": True}).json() == {"auto_consent": True}
    assert post(emulator, "/cgi-bin/message/subscribe/send", msg, access_token=token).json()["errcode"] == 0
    assert emulator.messages(touser=openid)[0]["auto_consented"] is True
    with WeChatEmulator(auto_consent=True) as other:
        assert other.auto_consent


def test_wxacode_png_and_validation(emulator: WeChatEmulator) -> None:
    token, path = stable_token(emulator), "/wxa/getwxacodeunlimit"
    body = {"scene": "org=42&x=1", "page": "pages/index/index", "width": 280}
    res = post(emulator, path, body, access_token=token)
    assert res.headers["Content-Type"] == "image/png" and res.content.startswith(b"\x89PNG\r\n\x1a\n")
    cases: list[tuple[dict[str, Any], int]] = [
        ({"scene": "x" * 33}, 40129),
        ({"scene": "has space"}, 40129),
        ({}, 40129),
        ({"scene": "a", "width": 100}, 40097),
        ({"scene": "a", "page": "/pages/index"}, 41030),
    ]
    for body, errcode in cases:
        assert post(emulator, path, body, access_token=token).json()["errcode"] == errcode, body


def test_msg_sec_check_verdicts_and_validation(emulator: WeChatEmulator) -> None:
    token, openid, path = stable_token(emulator), openid_for(APPID, "a"), "/wxa/msg_sec_check"

    def check(content: str, **extra: Any) -> dict[str, Any]:
        body = {"version": 2, "openid": openid, "scene": 2, "content": content, **extra}
        return post(emulator, path, body, access_token=token).json()

    passed = check("你好")
    assert passed["errcode"] == 0 and passed["trace_id"]
    assert passed["result"] == {"suggest": "pass", "label": 100}
    assert check("一起去赌博吧")["result"]["suggest"] == "risky"
    assert check("ok", nickname="risky-test-word")["result"] == {"suggest": "risky", "label": 21000}
    assert check("a review-test-word b")["result"]["suggest"] == "review"
    assert check("x", version=1)["errcode"] == 47001
    assert check("x", scene=5)["errcode"] == 47001
    assert check("x" * 2501)["errcode"] == 47001
    assert check("x", openid="nope")["errcode"] == 40003
    with WeChatEmulator(risky_words=["custom"]) as custom:
        body = {"version": 2, "openid": openid, "scene": 1, "content": "so custom"}
        tok = requests.post(
            custom.url + "/cgi-bin/stable_token",
            json={"grant_type": "client_credential", "appid": custom.appid, "secret": custom.secret},
            timeout=5,
        )
        verdict = post(custom, path, body, access_token=tok.json()["access_token"]).json()
        assert verdict["result"]["suggest"] == "risky"


def test_errors_for_unknown_path_method_and_json(emulator: WeChatEmulator) -> None:
    res = get(emulator, "/cgi-bin/nope")
    assert res.status_code == 404 and res.json()["errcode"] == 40066
    assert get(emulator, "/wxa/msg_sec_check").json()["errcode"] == 43002
    bad = requests.post(emulator.url + "/cgi-bin/stable_token", data=b"{not json", timeout=5)
    assert bad.json()["errcode"] == 47001
    assert post(emulator, "/__emulator__/nope").status_code == 404
    assert post(emulator, "/__emulator__/wx-login", {"name": "bad name!"}).status_code == 400
    with pytest.raises(EmulatorAdminError):
        emulator.add_fault("/x", errcode=1, latency_ms=5)


def test_faults_over_http(emulator: WeChatEmulator) -> None:
    assert post(emulator, "/__emulator__/faults", {"path": "/cgi-bin/token", "count": 2, "errcode": 45009}).ok
    assert post(emulator, "/__emulator__/faults", {"path": "/cgi-bin/token", "http_status": 502}).ok
    assert len(get(emulator, "/__emulator__/faults").json()["faults"]) == 2
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    assert [get(emulator, "/cgi-bin/token", **params).json()["errcode"] for _ in range(2)] == [45009, 45009]
    assert get(emulator, "/cgi-bin/token", **params).status_code == 502
    assert "access_token" in get(emulator, "/cgi-bin/token", **params).json()
    assert len(get(emulator, "/__emulator__/calls", path="/cgi-bin/token").json()["calls"]) == 4
    post(emulator, "/__emulator__/faults", {"path": "/cgi-bin/token", "latency_ms": 200})
    assert len(emulator.faults()) == 1
    started = time.monotonic()
    assert "access_token" in get(emulator, "/cgi-bin/token", **params).json()
    # A lower bound only: a loaded machine makes the answer later, never earlier.
    assert time.monotonic() - started >= 0.2
    assert emulator.faults() == []  # played once, then gone
    post(emulator, "/__emulator__/faults", {"path": "/cgi-bin/token", "errcode": 1})
    assert requests.delete(emulator.url + "/__emulator__/faults", timeout=5).ok and emulator.faults() == []


def test_admin_reset_and_expire(emulator: WeChatEmulator) -> None:
    token = stable_token(emulator)
    assert post(emulator, "/__emulator__/tokens/expire").json() == {"expired": 1}
    body = {"version": 2, "openid": openid_for(APPID, "a"), "scene": 2, "content": "hi"}
    assert post(emulator, "/wxa/msg_sec_check", body, access_token=token).json()["errcode"] == 42001
    emulator.grant_consent(openid_for(APPID, "a"), TEMPLATE)
    assert post(emulator, "/__emulator__/reset").json() == {"ok": True}
    assert emulator.consents() == [] and emulator.calls() == []
    assert get(emulator, "/__emulator__/health").json()["ok"] is True


def test_stop_is_prompt_with_a_held_request() -> None:
    emu = WeChatEmulator()
    emu.start()
    emu.add_fault("/cgi-bin/token", timeout=True, hold_s=60)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(requests.get(emu.url + "/cgi-bin/token", timeout=120))
        except requests.RequestException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 2
    while not emu.calls("/cgi-bin/token") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.calls("/cgi-bin/token")  # the request is being held
    started = time.monotonic()
    emu.stop()
    # stop() released the held request rather than waiting out its 60 s: a bound on one side, far
    # from the hold, so a loaded machine cannot fail it.
    assert time.monotonic() - started < 15
    # The caller (who would wait 120 s) hears at once that no answer is coming, not after the hold.
    caller.join(timeout=20)
    assert not caller.is_alive()
    assert outcome and isinstance(outcome[0], requests.RequestException)  # never answered


def test_cli_serves_and_exits_on_sigterm() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.wechat.emulator", "--port", str(port), "--appid", "wx-cli"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None and "listening on" in proc.stdout.readline()
        health = requests.get(f"http://127.0.0.1:{port}/__emulator__/health", timeout=5).json()
        assert health == {"ok": True, "appid": "wx-cli"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=3) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
