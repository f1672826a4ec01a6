"""Prometheus metrics: HTTP requests by route, method and status with their latency; message counts.

* HTTP: one histogram, ``gongxin_http_request_duration_seconds{route, method, status}``: its
  ``_count`` is the number of requests, its buckets their latency from the handler's start to the
  response (Sanic's own start time, ``request.stream.perft0``, so no request middleware is needed).
  Under ASGI (the tests) Sanic keeps no start time and the latency is observed as 0. Each
  (route, method, status) child is looked up once per process and kept: prometheus-client's
  ``labels()`` validates and locks on every call. What this costs a request is in bench/README.md.
* Several server processes on one machine (``WORKERS`` > 1) share their HTTP metrics through
  prometheus-client's multiprocess mode: ``gongxin serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
  fresh directory before the workers start (``shared_between_workers``).
* Messages: ``gongxin_notification_messages_total{template_id, event, outcome}`` (sent, skipped,
  failed, retried, dead_lettered) and ``gongxin_notification_messages{template_id, event, state}``
  (dead, pending now), computed from the delivery records at scrape time, so every worker process
  on every machine is counted and a restart loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from time import perf_counter
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from backend.subscriptions.schemas import TemplateCounts

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Histogram(
    "gongxin_http_request_duration_seconds",
    "HTTP requests by route, method and status: latency from the handler's start to the response",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_children: dict[tuple[str, str, int], Any] = {}
UNMATCHED = "(unmatched)"  # 404s and 405s: one label, whatever the path, so it cannot explode


async def observe_request(request: Request, response: HTTPResponse) -> None:
    """Response middleware: one observation per answered request."""
    route = request.route
    key = (route.path if route is not None else UNMATCHED, request.method, response.status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = HTTP_REQUESTS.labels("/" + key[0] if route else key[0], key[1], str(key[2]))
    started = getattr(request.stream, "perft0", None)
    child.observe(perf_counter() - started if started else 0.0)


def register(app: Sanic) -> None:
    app.register_middleware(observe_request, "response")  # type: ignore[arg-type]


class _MessageCounts:
    """A one-off collector for the counts read from the delivery records."""

    def __init__(self, counts: Iterable[TemplateCounts]) -> None:
        self.counts = list(counts)

    def collect(self) -> Iterator[Metric]:
        labels = ["template_id", "event", "outcome"]
        total = CounterMetricFamily(
            "gongxin_notification_messages", "Subscribe messages by template and outcome", labels=labels
        )
        now = GaugeMetricFamily(
            "gongxin_notification_messages",
            "Subscribe messages waiting now: dead letters and pending",
            labels=["template_id", "event", "state"],
        )
        for c in self.counts:
            for outcome in ("sent", "skipped", "failed", "retried", "dead_lettered"):
                total.add_metric([c.template_id, c.event, outcome], getattr(c, outcome))
            for state in ("dead", "pending"):
                now.add_metric([c.template_id, c.event, state], getattr(c, state))
        yield total
        yield now


def exposition(counts: Iterable[TemplateCounts]) -> bytes:
    """The whole /metrics body in the Prometheus text format."""
    if os.environ.get(MULTIPROC_ENV):
        http = CollectorRegistry()
        MultiProcessCollector(http)
    else:
        http = REGISTRY
    messages = CollectorRegistry()
    messages.register(_MessageCounts(counts))
    return generate_latest(http) + generate_latest(messages)


@contextlib.contextmanager
def shared_between_workers(workers: int) -> Iterator[None]:
    """With several server processes, let them share HTTP metrics through a fresh directory."""
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="gongxin-metrics-")
    os.environ[MULTIPROC_ENV] = directory  # read by prometheus-client when each worker imports it
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
