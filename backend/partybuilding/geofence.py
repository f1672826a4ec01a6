"""Distance on the earth and the activity's check-in radius."""

from __future__ import annotations

import math
from math import asin, cos, sin, sqrt

from ..errors import Unprocessable

EARTH_RADIUS_M = 6_371_008.8
# A phone's reported accuracy widens the circle, but only this much: a vague fix cannot check in
# from across town.
MAX_ACCURACY_SLACK_M = 50.0
_RADIANS = math.pi / 180


class OutsideGeofence(Unprocessable):
    code = "checkin.outside_geofence"
    message = "您不在活动地点签到范围内 / You are outside the activity's check-in area"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = lat1 * _RADIANS, lat2 * _RADIANS  # what math.radians computes, without the calls
    dp, dl = p2 - p1, (lon2 - lon1) * _RADIANS
    a = sin(dp / 2) ** 2 + cos(p1) * cos(p2) * sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(sqrt(a))


def require_inside(
    *, center: tuple[float, float], radius_m: float, position: tuple[float, float], accuracy_m: float
) -> float:
    """The distance from the centre; OutsideGeofence (with the distance) when too far."""
    distance = distance_m(*center, *position)
    if distance > radius_m + min(max(accuracy_m, 0.0), MAX_ACCURACY_SLACK_M):
        raise OutsideGeofence(
            f"您距活动地点约 {round(distance)} 米，超出 {radius_m} 米签到范围 / "
            f"You are about {round(distance)} m away, beyond the {radius_m} m check-in radius",
            details={"distance_m": round(distance, 1), "radius_m": radius_m},
        )
    return distance
