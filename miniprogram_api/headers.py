"""Response headers: Sanic's header sanitizer without its cost per character, and ``no_store``.

Sanic strips CR, LF and NUL from every response header name and value (no header injection) with
``str.translate``. CPython looks each distinct character of the string up in the table and raises,
then drops, a KeyError for each one the table leaves alone: about 2 µs for a 32-character value. A
check-in's answer carries four headers, so eight such calls, and callgrind put them at 7 %
of the whole request (bench/README.md). The replacement translates only when one of the three
characters is there, which gives the same string for every input (tests/test_headers.py); the
common case is three ``in`` scans in C.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sanic import Request
from sanic.response.types import HEADER_TRANSLATION_TABLE, BaseHTTPResponse

from .openapi import carry_docs

Handler = Callable[..., Awaitable[Any]]

_sanics_own = BaseHTTPResponse.__dict__["_sanitize_header_value"]


def sanitize_header_value(value: str) -> str:
    """``value`` without CR, LF or NUL."""
    if "\r" in value or "\n" in value or "\x00" in value:
        return value.translate(HEADER_TRANSLATION_TABLE)
    return value


def install() -> None:
    """Use ``sanitize_header_value`` for every response of this process (idempotent)."""
    BaseHTTPResponse._sanitize_header_value = staticmethod(sanitize_header_value)  # type: ignore[method-assign]


def sanics_own(value: str) -> str:
    """Sanic's original, for the test that holds the two together."""
    return str(_sanics_own.__func__(value))


def no_store(handler: Handler) -> Handler:
    """Mark a route's answers as personal data: no cache (a browser's, a proxy's, WeChat's) may keep them.

    For every route that answers with someone's own data (``/me``, attendance, a member's own
    lists, a token): ``Cache-Control: no-store`` on what it answers (an error carries none of it).
    """

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
        response = await handler(request, *args, **kwargs)
        response.headers["Cache-Control"] = "no-store"
        return response

    return carry_docs(handler, wrapper)
