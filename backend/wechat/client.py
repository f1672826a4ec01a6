"""The WeChat client: wechatpy behind a host-rewriting transport, bounded retries and an async facade.

* Transport: wechatpy hard-codes ``https://api.weixin.qq.com`` in several places, so instead of
  overriding base URLs we mount a ``requests`` adapter that rewrites that prefix to ``api_base`` (the
  emulator in development and tests), plus a guard adapter that refuses every other host, so a call
  can never silently leave the machine. With the production base nothing is rewritten or guarded.
* Tokens: POST /cgi-bin/stable_token (many processes may call it without invalidating each other's
  token), cached in a wechatpy session storage (Redis when several processes run).
* Retries: transient failures (-1, timeouts, connection errors, HTTP 5xx) are retried up to
  ``max_attempts`` with exponential backoff (a subscribe message only on -1, which WeChat answers
  before sending: after a timeout or 5xx it may have gone out, and a retry could send it twice);
  a rejected token (40001/40014/42001) is refetched once and the call retried once; 45009/45011
  raise ``RateLimited`` at once (retrying a rate limit only makes it worse); everything else
  (40029, 43101, 40003, ...) raises at once. A token refetch that itself fails raises its own error.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
import requests
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.client.api import WeChatWxa
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

from backend.errors import DomainError
from backend.wechat.errors import (
    AccessTokenInvalid,
    ForeignHostBlocked,
    InvalidAppCredentials,
    RateLimited,
    SystemBusy,
    WeChatError,
    WeChatUnavailable,
    error_for,
)

logger = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_T = TypeVar("_T")


# --- transport ---------------------------------------------------------------------------------------
class RewritingAdapter(HTTPAdapter):
    """Sends requests for ``https://api.weixin.qq.com/...`` to ``api_base`` instead."""

    def __init__(self, api_base: str, *, pool_size: int = 10):
        super().__init__(pool_maxsize=pool_size)
        self.api_base = api_base.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite the URL prefix, then send as usual."""
        url = request.url or ""
        for prefix in (WECHAT_API_BASE, "http://api.weixin.qq.com"):
            if url.startswith(prefix + "/"):
                request.url = self.api_base + url[len(prefix) :]
                break
        return super().send(request, *args, **kwargs)


class GuardAdapter(HTTPAdapter):
    """Refuses every request: mounted for any host that is neither WeChat nor the API base."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Raise ForeignHostBlocked (only the host goes in the details: the URL may carry secrets)."""
        host = urlsplit(request.url or "").netloc
        raise ForeignHostBlocked(details={"host": host})


def install_transport(http: requests.Session, api_base: str, *, pool_size: int = 10) -> None:
    """Route WeChat calls on ``http`` to ``api_base``; refuse other hosts unless it is production.

    ``pool_size``: connections kept open to WeChat, as many as threads call at once; beyond the pool
    a connection is opened (and, in production, a TLS handshake made) for every call and discarded.
    """
    api_base = api_base.rstrip("/")
    if api_base == WECHAT_API_BASE:
        http.mount("https://", HTTPAdapter(pool_maxsize=pool_size))
        return
    # requests picks the longest matching prefix, so the two specific mounts beat the catch-alls;
    # the trailing "/" keeps "https://api.weixin.qq.com.evil.example" out of the rewrite.
    guard = GuardAdapter()
    http.mount("http://", guard)
    http.mount("https://", guard)
    rewrite = RewritingAdapter(api_base, pool_size=pool_size)
    http.mount(WECHAT_API_BASE + "/", rewrite)
    http.mount("http://api.weixin.qq.com/", rewrite)
    http.mount(api_base + "/", HTTPAdapter(pool_maxsize=pool_size))


def make_session_storage(redis_url: str | None) -> SessionStorage:
    """Token storage: Redis (shared by every process) when a URL is given, else per-process memory."""
    if redis_url:
        return RedisStorage(redis.Redis.from_url(redis_url), prefix="gongxin:wechat")
    return MemoryStorage()


# --- synchronous client ------------------------------------------------------------------------------
class MiniProgramWxa(WeChatWxa):
    """WeChatWxa plus the mini-program APIs wechatpy 1.8 lacks or covers only partly."""

    def code_to_session(self, js_code: str) -> dict[str, Any]:
        """GET /sns/jscode2session without an access token (wechatpy's version fetches one needlessly)."""
        # Params as a list of pairs: wechatpy only injects access_token into dict params.
        params = [
            ("appid", self.appid),
            ("secret", self.secret),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ]
        return self._get("sns/jscode2session", params=params)

    def get_user_phone_number(self, code: str) -> dict[str, Any]:
        """POST /wxa/business/getuserphonenumber."""
        return self._post("wxa/business/getuserphonenumber", data={"code": code})

    def send_subscribe_message_v2(
        self,
        user_id: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> dict[str, Any]:
        """POST /cgi-bin/message/subscribe/send with miniprogram_state and lang (absent in wechatpy)."""
        body: dict[str, Any] = {
            "touser": user_id,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": miniprogram_state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        return self._post("cgi-bin/message/subscribe/send", data=body)

    def get_wxa_code_unlimited_v2(
        self,
        scene: str,
        page: str | None = None,
        width: int = 430,
        check_path: bool = True,
        env_version: str = "release",
    ) -> Any:
        """POST /wxa/getwxacodeunlimit with check_path and env_version; the raw response on success."""
        body: dict[str, Any] = {
            "scene": scene,
            "width": width,
            "check_path": check_path,
            "env_version": env_version,
        }
        if page:
            body["page"] = page
        return self._post("wxa/getwxacodeunlimit", data=body)

    def msg_sec_check_v2(self, openid: str, content: str, scene: int = 2, **extra: str) -> dict[str, Any]:
        """POST /wxa/msg_sec_check, version 2 (wechatpy only has version 1)."""
        body = {"version": 2, "openid": openid, "scene": scene, "content": content, **extra}
        return self._post("wxa/msg_sec_check", data=body)

    def media_check_async_v2(self, openid: str, media_url: str, scene: int = 3) -> dict[str, Any]:
        """POST /wxa/media_check_async, version 2, an image: a trace_id; the verdict comes as a push."""
        body = {"version": 2, "openid": openid, "scene": scene, "media_url": media_url, "media_type": 2}
        return self._post("wxa/media_check_async", data=body)


class MiniProgramClient(WeChatClient):
    """A wechatpy client for one mini-program: stable tokens, timeouts, typed errors, bounded retries."""

    wxa = MiniProgramWxa()

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        api_base: str = WECHAT_API_BASE,
        session: SessionStorage | None = None,
        timeout: float = 5.0,
        max_attempts: int = 3,
        backoff: float = 0.2,
        pool_size: int = 10,
    ):
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.api_base = api_base.rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._token_lock = threading.Lock()
        self._local = threading.local()  # the token each worker thread last sent
        install_transport(self._http, self.api_base, pool_size=pool_size)
        # requests reads proxy and netrc settings from the environment on every request (a quarter
        # of a subscribe message's CPU, bench/README.md "notify"): read the proxies once, here.
        self._http.proxies.update(requests.utils.get_environ_proxies(WECHAT_API_BASE))
        self._http.trust_env = False

    # token handling
    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        """Inject the token ourselves so a rejected call knows which token was rejected."""
        params = kwargs.setdefault("params", {})
        if isinstance(params, dict):
            if "access_token" not in params:
                params["access_token"] = self.access_token
            self._local.token = params["access_token"]
        return super()._request(method, url_or_endpoint, **kwargs)

    @property
    def access_token(self) -> str:
        """The stored token, fetched when missing or past its expiry."""
        # wechatpy refetches in the last 60 s of a token's life, but stable_token hands back the same
        # token until it expires, so every call of that minute would fetch: use it to the end instead
        # (a 42001 at the boundary takes the refetch-once path).
        token = self.session.get(self.access_token_key)
        if token and (self.expires_at is None or time.time() < self.expires_at):
            return str(token)
        self.fetch_access_token()
        return str(self.session.get(self.access_token_key))

    def fetch_access_token(self, force_refresh: bool = False) -> dict[str, Any]:
        """POST /cgi-bin/stable_token and store the token; raises typed errors only."""
        return self._invoke(functools.partial(self._fetch_stable_token, force_refresh))

    def _fetch_stable_token(self, force_refresh: bool) -> dict[str, Any]:
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
            "force_refresh": force_refresh,
        }
        with self._token_lock:
            res = self._http.post(WECHAT_API_BASE + "/cgi-bin/stable_token", json=body, timeout=self.timeout)
            if res.status_code >= 400:
                raise WeChatUnavailable(details={"status": res.status_code}, transient=res.status_code >= 500)
            result = res.json()
            errcode = int(result.get("errcode") or 0)
            if errcode:
                if errcode in (40001, 40002, 40013, 40125, 40164, 41002, 41004):
                    raise InvalidAppCredentials(errcode=errcode, errmsg=self._redact(result.get("errmsg")))
                raise error_for(errcode, self._redact(result.get("errmsg")))
            expires_in = max(1, int(result.get("expires_in", 7200)))
            self.session.set(self.access_token_key, result["access_token"], expires_in)
            self.expires_at = int(time.time()) + expires_in
            return result

    def _refresh_token(self, rejected: str) -> None:
        """Replace a rejected token: a plain fetch first, a forced one only if it returned the same."""
        if self.session.get(self.access_token_key) not in (None, rejected):
            return  # another thread or process already replaced it
        # force_refresh is limited to 20 a day at WeChat; a plain fetch suffices when the token expired.
        if self.fetch_access_token()["access_token"] == rejected:
            self.fetch_access_token(force_refresh=True)

    # error mapping and retries
    def _redact(self, text: Any) -> str | None:
        """WeChat's errmsg, without anything that looks like our secret or token, capped in length."""
        if text is None:
            return None
        text = str(text)
        for secret in (self.secret, self.session.get(self.access_token_key)):
            if secret:
                text = text.replace(str(secret), "***")
        return text[:300]

    def _invoke(self, fn: Callable[[], _T]) -> _T:
        """Run one attempt, turning wechatpy and requests failures into typed errors."""
        try:
            return fn()
        except DomainError:
            raise
        except WeChatClientException as exc:
            if exc.errcode is None:  # raise_for_status: an HTTP error status
                status = exc.response.status_code if exc.response is not None else None
                transient = status is None or status >= 500 or status == 429
                raise WeChatUnavailable(details={"status": status}, transient=transient) from None
            raise error_for(int(exc.errcode), self._redact(exc.errmsg)) from None
        # `from None` on network errors: their text carries the URL, i.e. the token or the secret.
        except requests.Timeout:
            raise WeChatUnavailable(details={"reason": "timeout"}) from None
        except requests.ConnectionError:
            raise WeChatUnavailable(details={"reason": "connection_error"}) from None
        except requests.RequestException as exc:  # includes a body that is not JSON
            raise WeChatUnavailable(details={"reason": type(exc).__name__}) from None

    def call(self, op: str, fn: Callable[[], _T], *, idempotent: bool = True) -> _T:
        """Run ``fn`` with the retry policy of the module docstring."""
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            self._local.token = None
            try:
                return self._invoke(fn)
            except AccessTokenInvalid:
                rejected = self._local.token
                if refreshed or rejected is None:
                    raise
                refreshed = True
                logger.info("wechat %s: access token rejected, refetching once", op)
                self._invoke(functools.partial(self._refresh_token, rejected))
            except WeChatError as exc:
                if not exc.transient or isinstance(exc, RateLimited) or attempt >= self.max_attempts:
                    raise
                if not idempotent and not isinstance(exc, SystemBusy):
                    raise  # after a timeout or a 5xx WeChat may have sent it: a retry could send it twice
                delay = self.backoff * 2 ** (attempt - 1)
                logger.warning(
                    "wechat %s: %s (errcode %s), retry %d in %.2fs",
                    op,
                    type(exc).__name__,
                    exc.errcode,
                    attempt,
                    delay,
                )
                time.sleep(delay)

    # the APIs, each with its retry policy
    def login(self, js_code: str) -> dict[str, Any]:
        """code2Session."""
        return self.call("jscode2session", lambda: self.wxa.code_to_session(js_code))

    def phone_number(self, code: str) -> dict[str, Any]:
        """The phone_info for a getPhoneNumber code."""
        return self.call("getuserphonenumber", lambda: self.wxa.get_user_phone_number(code))["phone_info"]

    def subscribe_send(self, **kwargs: Any) -> int:
        """Send one subscribe message; returns the msgid."""
        result = self.call(
            "subscribe_send", lambda: self.wxa.send_subscribe_message_v2(**kwargs), idempotent=False
        )
        return int(result["msgid"])

    def wxa_code(self, **kwargs: Any) -> bytes:
        """A mini-program code PNG."""
        res = self.call("getwxacodeunlimit", lambda: self.wxa.get_wxa_code_unlimited_v2(**kwargs))
        content = getattr(res, "content", b"")
        if not content.startswith(PNG_SIGNATURE):
            raise WeChatError(details={"reason": "getwxacodeunlimit returned no PNG"})
        return content

    def text_check(self, openid: str, content: str, scene: int = 2) -> dict[str, Any]:
        """msg_sec_check v2."""
        return self.call("msg_sec_check", lambda: self.wxa.msg_sec_check_v2(openid, content, scene))

    def media_check(self, openid: str, media_url: str, scene: int = 3) -> dict[str, Any]:
        """media_check_async v2 of an image."""
        return self.call("media_check_async", lambda: self.wxa.media_check_async_v2(openid, media_url, scene))


# --- async facade ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    """The result of code2Session."""

    openid: str
    session_key: str
    unionid: str | None = None


@dataclass(frozen=True)
class PhoneInfo:
    """A user's phone number."""

    phone_number: str
    pure_phone_number: str
    country_code: str


@dataclass(frozen=True)
class TextCheck:
    """The verdict of msg_sec_check v2."""

    suggest: str  # "pass", "review" or "risky"
    label: int
    trace_id: str | None = None

    @property
    def passed(self) -> bool:
        """True when WeChat found nothing to object to."""
        return self.suggest == "pass"


class WeChatService:
    """Async WeChat API: runs the blocking client on a bounded thread pool, never on the event loop."""

    def __init__(self, client: MiniProgramClient, *, max_workers: int = 8):
        self.client = client
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="wechat")

    @classmethod
    def create(
        cls,
        *,
        appid: str,
        secret: str,
        api_base: str = WECHAT_API_BASE,
        redis_url: str | None = None,
        timeout: float = 5.0,
        max_attempts: int = 3,
        backoff: float = 0.2,
        max_workers: int = 8,
    ) -> WeChatService:
        """Build a service with its client and token storage."""
        client = MiniProgramClient(
            appid,
            secret,
            api_base=api_base,
            session=make_session_storage(redis_url),
            timeout=timeout,
            max_attempts=max_attempts,
            backoff=backoff,
            pool_size=max_workers,  # one kept-alive connection per thread
        )
        return cls(client, max_workers=max_workers)

    async def _run(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def code_to_session(self, code: str) -> Session:
        """Exchange a wx.login code for the user's openid and session key."""
        r = await self._run(self.client.login, code)
        return Session(openid=r["openid"], session_key=r["session_key"], unionid=r.get("unionid"))

    async def get_phone_number(self, code: str) -> PhoneInfo:
        """Exchange a getPhoneNumber code for the phone number."""
        r = await self._run(self.client.phone_number, code)
        return PhoneInfo(r["phoneNumber"], r["purePhoneNumber"], str(r["countryCode"]))

    async def send_subscribe_message(
        self,
        *,
        openid: str,
        template_id: str,
        data: dict[str, Any],
        page: str | None = None,
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> int:
        """Send a subscribe message (uses one of the user's consents); returns the msgid."""
        return await self._run(
            self.client.subscribe_send,
            user_id=openid,
            template_id=template_id,
            data=data,
            page=page,
            miniprogram_state=miniprogram_state,
            lang=lang,
        )

    async def get_wxa_code_unlimited(
        self,
        *,
        scene: str,
        page: str | None = None,
        width: int = 430,
        check_path: bool = False,
        env_version: str = "release",
    ) -> bytes:
        """A mini-program code (PNG bytes) opening ``page`` with ``scene``."""
        return await self._run(
            self.client.wxa_code,
            scene=scene,
            page=page,
            width=width,
            check_path=check_path,
            env_version=env_version,
        )

    async def check_text(self, *, openid: str, content: str, scene: int = 2) -> TextCheck:
        """WeChat's text security check (msg_sec_check v2)."""
        r = await self._run(self.client.text_check, openid, content, scene)
        result = r.get("result") or {}
        return TextCheck(str(result.get("suggest", "")), int(result.get("label", 0)), r.get("trace_id"))

    async def check_image(self, *, openid: str, media_url: str, scene: int = 3) -> str:
        """Submit an image to WeChat's asynchronous media check; its trace_id (the verdict is pushed)."""
        r = await self._run(self.client.media_check, openid, media_url, scene)
        trace_id = r.get("trace_id")
        if not trace_id:
            raise WeChatError(details={"reason": "media_check_async returned no trace_id"})
        return str(trace_id)

    def close(self) -> None:
        """Shut the thread pool down (waits for running calls)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
