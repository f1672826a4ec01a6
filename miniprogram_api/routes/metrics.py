"""Prometheus metrics, for the monitoring system to scrape (keep it off the public internet)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw
from sanic_ext import openapi

from backend.subscriptions import service as subscriptions_service

from ..metrics import exposition

bp = Blueprint("metrics")


@bp.get("/metrics")
@openapi.tag("health")
@openapi.response(200, {"text/plain": str}, "Metrics in the Prometheus text format")
async def get_metrics(request: Request) -> HTTPResponse:
    """HTTP requests by route and status with latency histograms; message counts per template."""
    counts = await subscriptions_service.message_counts()
    return raw(exposition(counts), content_type=CONTENT_TYPE_LATEST)
