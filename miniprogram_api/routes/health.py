"""Liveness and readiness probes for the load balancer and the orchestrator."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sanic_ext import openapi

from backend.db import ping_db
from backend.errors import ServiceUnavailable

from ..openapi import responds

bp = Blueprint("health")
PROBE_TIMEOUT_SECONDS = 2.0


class HealthRead(BaseModel):
    status: str


class NotReady(ServiceUnavailable):
    code = "service.not_ready"
    message = "服务未就绪：数据库或缓存不可用 / Not ready: the database or the cache is unreachable"


@bp.get("/healthz")
@openapi.tag("health")
@responds(200, HealthRead, "The process is alive")
async def healthz(request: Request) -> HTTPResponse:
    """Answer while the process lives."""
    return json({"status": "ok"})


@bp.get("/readyz")
@openapi.tag("health")
@responds(200, HealthRead, "The database and the cache answer", 503)
async def readyz(request: Request) -> HTTPResponse:
    """Answer 200 only while the database and the cache are reachable."""
    container = request.app.ctx.container
    failing = []
    for name, probe in (("database", ping_db), ("cache", container.cache.ping)):
        try:
            await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
        except Exception:  # any failure means not ready; the reason is not for the client
            failing.append(name)
    if failing:
        raise NotReady(details={"failing": failing})
    return json({"status": "ready"})
