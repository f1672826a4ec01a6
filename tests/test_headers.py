"""The header sanitizer gives Sanic's own result, and still stops header injection."""

from __future__ import annotations

import random

import pytest
from sanic.response import HTTPResponse
from sanic.response.types import BaseHTTPResponse

from miniprogram_api import headers


def _samples() -> list[str]:
    rng = random.Random(20261129)
    alphabet = "aZ09-_ :;/=\r\n\x00\t\x7f中é"
    made = ["", "\r", "\n", "\x00", "\r\n", "ok", "x\r\nSet-Cookie: a=b", "gongxin-\x00-id", "中文\n"]
    made += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(3000)]
    return made


@pytest.mark.parametrize("value", _samples()[:9])
def test_edge_values_match_sanics_own(value):
    assert headers.sanitize_header_value(value) == headers.sanics_own(value)


def test_random_values_match_sanics_own():
    for value in _samples():
        assert headers.sanitize_header_value(value) == headers.sanics_own(value), repr(value)


def test_installed_it_strips_an_injected_header_from_a_response(app):
    assert BaseHTTPResponse._sanitize_header_value is headers.sanitize_header_value
    response = HTTPResponse(b"{}", content_type="application/json")
    response.headers["X-Note"] = "ok\r\nSet-Cookie: stolen=1\x00"
    sent = dict(response.processed_headers)
    assert sent[b"X-Note"] == b"okSet-Cookie: stolen=1"
    assert b"set-cookie" not in {name.lower() for name in sent}
