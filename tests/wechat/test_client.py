"""The client and async facade against the emulator: typed errors, retries, tokens, transport guard."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
import requests
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from backend.errors import Conflict, DomainError, ServiceUnavailable, TooManyRequests, Unauthorized
from backend.wechat import errors as e
from backend.wechat.client import (
    PNG_SIGNATURE,
    WECHAT_API_BASE,
    MiniProgramClient,
    PhoneInfo,
    Session,
    WeChatService,
    install_transport,
    make_session_storage,
)
from backend.wechat.emulator import WeChatEmulator

TEMPLATE = "tmpl-order-ready"
DATA = {"thing1": {"value": "订单已就绪"}, "time2": {"value": "2026-01-01 10:00"}}
LOGIN = "/sns/jscode2session"
STABLE = "/cgi-bin/stable_token"
SEND = "/cgi-bin/message/subscribe/send"
CHECK = "/wxa/msg_sec_check"


# --- login -------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_dev_code_is_reusable_stable_openid(service: WeChatService, emulator: WeChatEmulator) -> None:
    first = await service.code_to_session("dev-alice")
    second = await service.code_to_session("dev-alice")
    assert isinstance(first, Session) and first.openid == second.openid == emulator.openid_for("alice")
    assert first.session_key and first.unionid
    assert emulator.calls(STABLE) == []  # code2Session needs no access token


@pytest.mark.asyncio
async def test_issued_code_is_single_use(service: WeChatService, emulator: WeChatEmulator) -> None:
    issued = emulator.issue_login_code("carol")
    assert (await service.code_to_session(issued["code"])).openid == issued["openid"]
    with pytest.raises(e.InvalidCode) as caught:
        await service.code_to_session(issued["code"])
    assert caught.value.errcode == 40029 and caught.value.status == 401
    assert isinstance(caught.value, Unauthorized) and caught.value.code == "wechat.invalid_code"
    assert len(emulator.calls(LOGIN)) == 2  # 40029 is never retried


@pytest.mark.asyncio
async def test_rate_limit_raises_at_once(service: WeChatService, emulator: WeChatEmulator) -> None:
    emulator.add_fault(LOGIN, count=5, errcode=45009)
    with pytest.raises(e.RateLimited) as caught:
        await service.code_to_session("dev-alice")
    assert caught.value.status == 429 and caught.value.transient and isinstance(caught.value, TooManyRequests)
    assert len(emulator.calls(LOGIN)) == 1


@pytest.mark.asyncio
async def test_system_busy_is_retried(service: WeChatService, emulator: WeChatEmulator) -> None:
    emulator.add_fault(LOGIN, count=2, errcode=-1)
    assert (await service.code_to_session("dev-alice")).openid
    assert len(emulator.calls(LOGIN)) == 3


@pytest.mark.asyncio
async def test_retries_are_bounded(service: WeChatService, emulator: WeChatEmulator) -> None:
    emulator.add_fault(LOGIN, count=10, errcode=-1)
    with pytest.raises(e.SystemBusy):
        await service.code_to_session("dev-alice")
    assert len(emulator.calls(LOGIN)) == 3


@pytest.mark.asyncio
async def test_http_502_is_retried_and_404_is_not(service: WeChatService, emulator: WeChatEmulator) -> None:
    emulator.add_fault(LOGIN, count=2, http_status=502)
    assert (await service.code_to_session("dev-alice")).openid
    assert len(emulator.calls(LOGIN)) == 3
    emulator.add_fault(LOGIN, count=5, http_status=404)
    with pytest.raises(e.WeChatUnavailable) as caught:
        await service.code_to_session("dev-alice")
    assert not caught.value.transient and caught.value.details == {"status": 404}
    assert len(emulator.calls(LOGIN)) == 4


@pytest.mark.asyncio
async def test_timeouts_give_up_after_max_attempts(emulator: WeChatEmulator) -> None:
    svc = WeChatService.create(
        appid=emulator.appid,
        secret=emulator.secret,
        api_base=emulator.url,
        timeout=0.3,
        max_attempts=3,
        backoff=0.0,
    )
    # What each attempt asked of the transport: the timeout it was given.
    rewrite = svc.client._http.get_adapter(WECHAT_API_BASE + LOGIN)
    timeouts: list[Any] = []
    send = rewrite.send

    def recording_send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if LOGIN in (request.url or ""):
            timeouts.append(kwargs.get("timeout"))
        return send(request, **kwargs)

    rewrite.send = recording_send  # type: ignore[method-assign]
    emulator.add_fault(LOGIN, count=5, timeout=True, hold_s=30)
    started = time.monotonic()
    try:
        with pytest.raises(e.WeChatUnavailable) as caught:
            await svc.code_to_session("dev-alice")
    finally:
        svc.close()
    assert caught.value.details == {"reason": "timeout"} and caught.value.status == 503
    assert len(emulator.calls(LOGIN)) == 3
    assert timeouts == [0.3, 0.3, 0.3]
    # The deadline was honoured: the client gave up on its own, long before the emulator would have
    # let go (30 s per attempt). A bound on one side only; how fast it is belongs to `make bench`.
    assert time.monotonic() - started < 30
    assert emulator.secret not in repr(caught.value.details) + str(caught.value)


def test_retries_back_off_exponentially_on_a_fake_clock(emulator: WeChatEmulator, monkeypatch) -> None:
    import backend.wechat.client as client_module

    slept: list[float] = []

    # The client's ``time`` module, with a sleep that only records.
    clock = SimpleNamespace(time=time.time, monotonic=time.monotonic, sleep=slept.append)
    monkeypatch.setattr(client_module, "time", clock)
    client = MiniProgramClient(
        emulator.appid, emulator.secret, api_base=emulator.url, max_attempts=4, backoff=0.25
    )
    emulator.add_fault(LOGIN, count=3, errcode=-1)
    assert client.login("dev-alice")["openid"]
    assert len(emulator.calls(LOGIN)) == 4
    assert slept == [0.25, 0.5, 1.0]  # backoff x 2^(n-1) before retry n
    slept.clear()
    emulator.add_fault(LOGIN, count=9, errcode=-1)
    with pytest.raises(e.SystemBusy):
        client.login("dev-bob")
    assert slept == [0.25, 0.5, 1.0]  # no sleep after the last attempt: it gives up


# --- tokens ------------------------------------------------------------------------------------------
def test_stable_token_is_reused(client: MiniProgramClient, emulator: WeChatEmulator) -> None:
    first = client.fetch_access_token()["access_token"]
    assert client.fetch_access_token()["access_token"] == first
    assert client.access_token == first
    assert client.fetch_access_token(force_refresh=True)["access_token"] != first


@pytest.mark.asyncio
async def test_expired_token_is_refetched_once(service: WeChatService, emulator: WeChatEmulator) -> None:
    openid = emulator.openid_for("alice")
    assert (await service.check_text(openid=openid, content="hi")).passed
    emulator.expire_tokens()  # next use -> 42001
    assert (await service.check_text(openid=openid, content="hi")).passed
    assert len(emulator.calls(STABLE)) == 2 and len(emulator.calls(CHECK)) == 3


@pytest.mark.asyncio
async def test_unknown_token_40001_is_refetched(service: WeChatService, emulator: WeChatEmulator) -> None:
    openid = emulator.openid_for("alice")
    await service.check_text(openid=openid, content="hi")
    emulator.reset()  # the emulator forgets every token: 40001
    assert (await service.check_text(openid=openid, content="hi")).passed
    assert len(emulator.calls(CHECK)) == 2 and len(emulator.calls(STABLE)) == 1


@pytest.mark.asyncio
async def test_token_refetch_is_bounded(service: WeChatService, emulator: WeChatEmulator) -> None:
    emulator.add_fault(CHECK, count=5, errcode=40001)
    with pytest.raises(e.AccessTokenInvalid):
        await service.check_text(openid=emulator.openid_for("a"), content="hi")
    assert len(emulator.calls(CHECK)) == 2


def test_errmsg_never_carries_the_token(client: MiniProgramClient, emulator: WeChatEmulator) -> None:
    token = client.access_token
    emulator.add_fault(CHECK, errcode=99999, errmsg=f"echoing {token} and {emulator.secret}")
    with pytest.raises(e.WeChatError) as caught:
        client.text_check(emulator.openid_for("a"), "hi")
    assert caught.value.errcode == 99999 and type(caught.value) is e.WeChatError
    rendered = str(caught.value.to_dict()) + repr(caught.value)
    assert token not in rendered and emulator.secret not in rendered and "***" in rendered


def test_wrong_secret_is_a_configuration_error(emulator: WeChatEmulator) -> None:
    client = MiniProgramClient(emulator.appid, "wrong-secret", api_base=emulator.url, backoff=0.0)
    with pytest.raises(e.InvalidAppCredentials) as caught:
        client.text_check(emulator.openid_for("a"), "hi")
    assert caught.value.errcode == 40125 and "wrong-secret" not in str(caught.value.to_dict())
    assert len(emulator.calls(STABLE)) == 1


def test_token_is_shared_through_redis(emulator: WeChatEmulator) -> None:
    server = fakeredis.FakeServer()
    clients = [
        MiniProgramClient(
            emulator.appid,
            emulator.secret,
            api_base=emulator.url,
            backoff=0.0,
            session=RedisStorage(fakeredis.FakeRedis(server=server), prefix="gongxin:wechat"),
        )
        for _ in range(2)
    ]
    for c in clients:
        c.text_check(emulator.openid_for("a"), "hi")
    assert len(emulator.calls(STABLE)) == 1  # the second "process" found the token in Redis


def test_make_session_storage() -> None:
    assert isinstance(make_session_storage(None), MemoryStorage)
    storage = make_session_storage("redis://127.0.0.1:6379/15")  # connects lazily
    assert isinstance(storage, RedisStorage) and storage.prefix == "gongxin:wechat"


# --- transport guard ---------------------------------------------------------------------------------
def test_guard_refuses_other_hosts_and_rewrites_wechat(client: MiniProgramClient) -> None:
    for url in ("https://example.com/", "http://127.0.0.2:1/", "https://api.weixin.qq.com.evil.example/x"):
        with pytest.raises(e.ForeignHostBlocked):
            client._http.get(url, timeout=1)
    health = client._http.get(WECHAT_API_BASE + "/__emulator__/health", timeout=1)
    assert health.json()["ok"] is True
    assert client._http.get(client.api_base + "/__emulator__/health", timeout=1).ok


def test_production_base_is_not_rewritten() -> None:
    http = requests.Session()
    install_transport(http, WECHAT_API_BASE)
    assert set(http.adapters) == {"https://", "http://"}


def test_the_connection_pool_holds_a_connection_per_thread(emulator: WeChatEmulator) -> None:
    service = WeChatService.create(appid="wx-a", secret="s", api_base=emulator.url, max_workers=24)
    adapter = service.client._http.get_adapter("https://api.weixin.qq.com/cgi-bin/token")
    assert adapter._pool_maxsize == 24
    service.close()


def test_proxy_settings_are_read_once_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.internal:3128")
    client = MiniProgramClient("wx-a", "s", api_base=WECHAT_API_BASE)
    assert client._http.proxies["https"] == "http://egress.internal:3128"
    assert client._http.trust_env is False  # not looked up again on every request
    monkeypatch.setenv("NO_PROXY", "api.weixin.qq.com")
    assert "https" not in MiniProgramClient("wx-a", "s", api_base=WECHAT_API_BASE)._http.proxies


# --- APIs --------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_subscribe_message_needs_one_consent_per_message(
    service: WeChatService, emulator: WeChatEmulator
) -> None:
    openid = emulator.openid_for("alice")
    send: dict[str, Any] = {"openid": openid, "template_id": TEMPLATE, "data": DATA}
    send["page"] = "pages/order/index"
    with pytest.raises(e.SubscribeRefused) as caught:
        await service.send_subscribe_message(**send)
    assert caught.value.status == 409 and isinstance(caught.value, Conflict)
    emulator.grant_consent(openid, TEMPLATE, count=1)
    msgid = await service.send_subscribe_message(**send)
    [message] = emulator.messages(touser=openid)
    assert message["msgid"] == msgid and message["data"] == DATA and message["page"] == "pages/order/index"
    with pytest.raises(e.SubscribeRefused):
        await service.send_subscribe_message(**send)
    assert len(emulator.calls(SEND)) == 3  # refusals are not retried


@pytest.mark.asyncio
async def test_subscribe_message_is_not_resent_after_ambiguous_failure(
    service: WeChatService, emulator: WeChatEmulator
) -> None:
    openid = emulator.openid_for("alice")
    emulator.grant_consent(openid, TEMPLATE, count=2)
    emulator.add_fault(SEND, count=1, http_status=502)
    with pytest.raises(e.WeChatUnavailable):
        await service.send_subscribe_message(openid=openid, template_id=TEMPLATE, data=DATA)
    assert len(emulator.calls(SEND)) == 1
    emulator.add_fault(SEND, count=1, errcode=-1)  # "busy" means not sent: safe to retry
    assert await service.send_subscribe_message(openid=openid, template_id=TEMPLATE, data=DATA)
    assert len(emulator.calls(SEND)) == 3 and len(emulator.messages()) == 1


@pytest.mark.asyncio
async def test_subscribe_message_bad_input(service: WeChatService, emulator: WeChatEmulator) -> None:
    openid = emulator.openid_for("alice")
    emulator.grant_consent(openid, TEMPLATE, count=5)
    with pytest.raises(e.InvalidTemplateData):
        await service.send_subscribe_message(openid=openid, template_id=TEMPLATE, data={"thing1": "x"})
    with pytest.raises(e.InvalidOpenid):
        await service.send_subscribe_message(openid="nobody", template_id=TEMPLATE, data=DATA)
    with pytest.raises(e.InvalidTemplate):
        await service.send_subscribe_message(openid=openid, template_id="bad template", data=DATA)


@pytest.mark.asyncio
async def test_wxa_code(service: WeChatService) -> None:
    png = await service.get_wxa_code_unlimited(scene="org=42", page="pages/index/index")
    assert png.startswith(PNG_SIGNATURE)
    with pytest.raises(e.InvalidWxaCodeParams) as caught:
        await service.get_wxa_code_unlimited(scene="x" * 33)
    assert caught.value.errcode == 40129 and caught.value.status == 422
    with pytest.raises(e.InvalidWxaCodeParams):
        await service.get_wxa_code_unlimited(scene="a", page="/pages/index/index")
    with pytest.raises(e.InvalidArguments):
        await service.get_wxa_code_unlimited(scene="a", width=100)


@pytest.mark.asyncio
async def test_check_text(service: WeChatService, emulator: WeChatEmulator) -> None:
    openid = emulator.openid_for("alice")
    ok = await service.check_text(openid=openid, content="今天天气不错")
    assert (ok.suggest, ok.label, ok.passed) == ("pass", 100, True) and ok.trace_id
    risky = await service.check_text(openid=openid, content="来赌博", scene=3)
    assert risky.suggest == "risky" and risky.label == 20006 and not risky.passed
    assert (await service.check_text(openid=openid, content="review-test-word")).suggest == "review"
    with pytest.raises(e.InvalidArguments):
        await service.check_text(openid=openid, content="x", scene=9)


@pytest.mark.asyncio
async def test_phone_number(service: WeChatService, emulator: WeChatEmulator) -> None:
    info = await service.get_phone_number("dev-phone-13812345678")
    assert info == PhoneInfo("+86 13812345678", "13812345678", "86")
    code = emulator.issue_phone_code("13900001111")
    assert (await service.get_phone_number(code)).pure_phone_number == "13900001111"
    with pytest.raises(e.InvalidCode):
        await service.get_phone_number(code)


@pytest.mark.asyncio
async def test_facade_does_not_block_the_event_loop(service: WeChatService, emulator: WeChatEmulator) -> None:
    await service.code_to_session("dev-warmup")  # the token and a connection, outside what is observed
    before = len(emulator.calls(LOGIN))
    emulator.add_fault(LOGIN, count=2, latency_ms=2000)  # each held two seconds by the emulator
    a = asyncio.create_task(service.code_to_session("dev-a"))
    b = asyncio.create_task(service.code_to_session("dev-b"))
    # This loop keeps turning while both calls are out, and both reach WeChat before either is
    # answered: they run side by side, off the loop. (Had they run in a row, the second would only
    # have been sent after the first's answer.) Structure, not speed: no bound on how long it takes.
    turns = 0
    while len(emulator.calls(LOGIN)) < before + 2 and not (a.done() or b.done()):
        await asyncio.sleep(0.01)
        turns += 1
    assert len(emulator.calls(LOGIN)) == before + 2
    assert not a.done() and not b.done()
    assert turns >= 1
    first, second = await asyncio.gather(a, b)
    assert first.openid != second.openid


# --- errors ------------------------------------------------------------------------------------------
def test_error_for_mapping() -> None:
    expected = {
        40029: e.InvalidCode,
        45009: e.RateLimited,
        45011: e.RateLimited,
        -1: e.SystemBusy,
        40001: e.AccessTokenInvalid,
        40014: e.AccessTokenInvalid,
        42001: e.AccessTokenInvalid,
        43101: e.SubscribeRefused,
        40003: e.InvalidOpenid,
        40037: e.InvalidTemplate,
        47003: e.InvalidTemplateData,
        40226: e.RiskyUser,
        40129: e.InvalidWxaCodeParams,
        41030: e.InvalidWxaCodeParams,
    }
    for errcode, cls in expected.items():
        err = e.error_for(errcode, "msg")
        assert type(err) is cls and err.errcode == errcode and isinstance(err, ServiceUnavailable)
    unknown = e.error_for(99999, "odd")
    assert type(unknown) is e.WeChatError and unknown.details == {"errcode": 99999, "errmsg": "odd"}
    assert unknown.status == 503 and not unknown.transient
    assert e.RiskyUser().status == 403 and e.InvalidTemplate().status == 500
    body = e.error_for(40029, "invalid code").to_dict()["error"]
    assert body["code"] == "wechat.invalid_code" and body["message"].startswith("登录凭证无效")
    assert isinstance(e.WeChatUnavailable(transient=False), DomainError)
