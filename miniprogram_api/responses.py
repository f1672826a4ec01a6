"""JSON responses written by orjson, for the paths every member hits at once (a check-in burst).

Sanic's ``json()`` after a pydantic ``model_dump`` builds the body twice over; orjson writes it from
plain data in one call. Datetimes come out as pydantic writes them (UTC as ``Z``), so a client sees the
same text whichever way a route builds its answer (tests/test_responses.py holds the two together).
"""

from __future__ import annotations

from typing import Any

import orjson
from sanic.response import HTTPResponse

_OPTIONS = orjson.OPT_UTC_Z


def json_bytes(data: Any, *, status: int = 200) -> HTTPResponse:
    """``data`` (dicts, lists, str, numbers, aware datetimes) as an application/json response."""
    return HTTPResponse(orjson.dumps(data, option=_OPTIONS), status=status, content_type="application/json")
