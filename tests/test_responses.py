"""orjson-written answers read the same as pydantic-written ones (miniprogram_api/responses.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
import pytest

from backend.partybuilding.models import AttendanceStatus
from backend.partybuilding.schemas import CheckinRead
from miniprogram_api.responses import json_bytes


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 29, 7, 6, 34, 33201, tzinfo=UTC),
        datetime(2026, 11, 29, 7, 6, 34, tzinfo=UTC),  # no microseconds: none written
        datetime(2026, 11, 29, 15, 6, 34, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2026, 11, 29, 7, 6, 34, 500000, tzinfo=timezone(timedelta(0))),
    ],
)
@pytest.mark.parametrize("distance", [0.0, 12.3, None])
def test_a_checkin_is_written_as_checkin_read_writes_it(when, distance):
    fields = {
        "activity_id": 7,
        "user_id": 2**40,
        "status": AttendanceStatus.LATE.value,
        "checked_in_at": when,
        "distance_m": distance,
    }
    response = json_bytes(fields, status=201)
    assert response.status == 201
    assert response.content_type == "application/json"
    assert response.body == CheckinRead(**fields).model_dump_json().encode()
    assert orjson.loads(response.body) == CheckinRead(**fields).model_dump(mode="json")
