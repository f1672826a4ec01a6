"""Liveness and readiness probes for the load balancer and the orchestrator."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

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
    """Answer 200 only while the database and the cache are reachable, within 2 seconds either way."""
    container = request.app.ctx.container
    probes = {"database": ping_db(), "cache": container.cache.ping()}
    answers = await asyncio.gather(*(_answers_in_time(probe) for probe in probes.values()))
    failing = [name for name, answered in zip(probes, answers, strict=True) if not answered]
    if failing:
        raise NotReady(details={"failing": failing}, retry_after=PROBE_TIMEOUT_SECONDS)
    return json({"status": "ready"})


async def _answers_in_time(probe: Coroutine[Any, Any, Any]) -> bool:
    """Whether ``probe`` succeeds within the probe timeout.

    Not ``asyncio.wait_for``: it waits for the cancelled probe to finish, and a probe stuck on a
    hung database may take as long to cancel as it took to hang (the review saw /readyz answer after
    12-14 s). The probe is cancelled and left to end on its own (its database call is bounded too).
    """
    task = asyncio.ensure_future(probe)
    done, _ = await asyncio.wait({task}, timeout=PROBE_TIMEOUT_SECONDS)
    if not done:
        task.cancel()
        task.add_done_callback(_forget)
        return False
    return not task.cancelled() and task.exception() is None


def _forget(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not log it as never retrieved
