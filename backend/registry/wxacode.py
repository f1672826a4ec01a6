"""The mini-program code of an organization (WeChat's getwxacodeunlimit), made once per code version.

WeChat draws each code anew, slowly and against a daily quota, while the image for one (credit code,
version) never changes: its scene is ``<credit code>.<version>``. So the PNG is kept in the shared
cache (Redis: every process and every restart reuse it) under that pair. The current version comes
from the organization's cached profile view, which a reissue or a revocation invalidates: the next
request then asks for the new version's image (or hears 409), and the old image is never served
again; it expires by itself. Requests that miss together in one process share one WeChat call.

An anonymous client could still make us call WeChat once per organization and version; the route
limits each client address (``WXACODE_RATE_LIMIT_PER_MINUTE``, 429 with Retry-After).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from ..batching import SingleFlight
from ..cache import Cache
from . import credit_code as cc
from . import profiles, qr

IMAGE_TTL_SECONDS = 30 * 24 * 3600
PAGE = "pages/org/index"
_making: SingleFlight[tuple[str, int], bytes] = SingleFlight()


class WxaCodeMaker(Protocol):
    async def get_wxa_code_unlimited(self, *, scene: str, page: str | None, check_path: bool) -> bytes: ...


def image_key(credit_code: str, version: int) -> str:
    return f"wxacode:{credit_code}:{version}"


async def get_png(*, code: str, wechat: WxaCodeMaker, cache: Cache, today: date) -> bytes:
    """The PNG of the organization's current mini-program code: from the cache, or made by WeChat once."""
    credit_code = cc.normalize(code)
    found = (
        await profiles.get_view_bytes(cache=cache, credit_code=credit_code, today=today)
        if cc.looks_like_code(credit_code)
        else None
    )
    if found is None:
        raise profiles.OrganizationNotFound(details={"credit_code": credit_code[:64]})
    version = found[1]["qr_version"]
    if version is None:
        raise qr.NoCurrentCode(details={"credit_code": credit_code})
    key = cache.key(image_key(credit_code, version))
    png = await cache.client.get(key)
    if png is not None:
        return bytes(png)

    async def make() -> bytes:
        # The scene holds at most 32 characters: the credit code and the version fit; the page
        # re-verifies through the API, so nothing secret needs to be in it.
        image = await wechat.get_wxa_code_unlimited(
            scene=f"{credit_code}.{version}", page=PAGE, check_path=False
        )
        await cache.client.set(key, image, ex=IMAGE_TTL_SECONDS)
        return image

    return await _making((credit_code, version), make)
