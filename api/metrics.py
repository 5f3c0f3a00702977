"""Prometheus metrics: requests, commands, incidents and timers, in the text exposition format.

Counted as they happen, in the process that serves or fires them:

- ``yishi_http_requests_total{endpoint, method, status}`` and ``yishi_http_request_duration_seconds{endpoint}``:
  every request, the endpoint being the route's rule (``/api/votes/<vote_id>/ballots``), so the label
  has as many values as there are routes; ballots served beside Flask (``api.fast_cast``) included.
- ``yishi_commands_total{command, outcome}``: every command the engine ran (``engine.kernel.bus.outcome``:
  ok, incident, noop, or the refusal's error code).
- ``yishi_incidents_total{command}``: commands that left their instance failed (status ``error``), among
  them ``RecordTimerIncident``: timers that failed to fire too often (``engine.kernel.timer_failures``).
- ``yishi_timers_fired_total``: instances whose due timers a worker fired.

Read from the database at each scrape (by the API's ``/metrics``): ``yishi_instances_in_error`` and
``yishi_timers_overdue`` (due more than a minute ago: no worker is firing them).

gunicorn serves with several processes, each counting on its own. With ``PROMETHEUS_MULTIPROC_DIR``
set (an empty directory, one per server, set before start), prometheus_client's multiprocess mode
keeps each process's samples in files there and ``/metrics`` adds them up, whichever process
answers; without it, each process reports only its own counts. ``yishi worker --metrics-port``
serves the worker's own. A sample costs a few microseconds (a lock, or an mmap write in
multiprocess mode): nothing beside a ballot's transaction.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from engine.kernel.models import Instance, Timer
from engine.bootstrap import Engine

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
OVERDUE_AFTER = 60.0
"""Seconds past its due time after which a timer counts as overdue."""


class _Metrics:
    """The metrics themselves, made at their first use rather than at import: in multiprocess mode a
    metric writes to its directory as soon as it exists, and ``yishi serve`` imports this module
    before it makes (or empties) that directory for gunicorn's processes."""

    def __init__(self) -> None:
        self.requests = Counter("yishi_http_requests", "HTTP requests answered.", ["endpoint", "method", "status"])
        self.request_seconds = Histogram("yishi_http_request_duration_seconds", "Time to answer an HTTP request.", ["endpoint"],
                                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
        self.commands = Counter("yishi_commands", "Commands the engine ran, by type and outcome.", ["command", "outcome"])
        self.incidents = Counter("yishi_incidents", "Commands that left their instance failed (status error), by type.", ["command"])
        self.timers_fired = Counter("yishi_timers_fired", "Instances whose due timers were fired.")


_made: list[_Metrics] = []
_making = threading.Lock()


def _metrics() -> _Metrics:
    if not _made:
        with _making:
            if not _made:
                _made.append(_Metrics())
    return _made[0]


UNMATCHED = "<unmatched>"
"""The endpoint label of a request no route matched (a 404), so that URLs never become label values."""


class Requests:
    """Counts one kind of request cheaply: its labelled children are looked up once."""

    def __init__(self, endpoint: str, method: str) -> None:
        self._endpoint, self._method = endpoint, method
        self._seconds: Any = None
        self._by_status: dict[int, Any] = {}

    def observe(self, status: int, seconds: float) -> None:
        counter = self._by_status.get(status)
        if counter is None:
            counter = self._by_status[status] = _metrics().requests.labels(self._endpoint, self._method, str(status))
        if self._seconds is None:
            self._seconds = _metrics().request_seconds.labels(self._endpoint)
        counter.inc()
        self._seconds.observe(seconds)


_requests: dict[tuple[str, str], Requests] = {}


def requests(endpoint: str, method: str) -> Requests:
    found = _requests.get((endpoint, method))
    if found is None:
        found = _requests[(endpoint, method)] = Requests(endpoint, method)
    return found


def observe_command(command: str, outcome: str) -> None:
    """An ``Engine`` observer: counts each command by outcome, incidents and timers fired among them."""
    metrics = _metrics()
    metrics.commands.labels(command, outcome).inc()
    if outcome == "incident":
        metrics.incidents.labels(command).inc()
    if command == "FireDueTimers" and outcome in ("ok", "incident"):
        metrics.timers_fired.inc()


def watch(engine: Engine) -> None:
    """Count the commands ``engine`` runs (once per engine)."""
    if observe_command not in engine.observers:
        engine.observers.append(observe_command)


class DatabaseGauges:
    """Gauges read from the database at each scrape: what is true of the deployment, not of one process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        overdue_before = self.engine.clock.now() - timedelta(seconds=OVERDUE_AFTER)
        with self.engine.read() as session:
            failed = session.scalar(select(func.count()).select_from(Instance).where(Instance.status == "error"))
            overdue = session.scalar(select(func.count()).select_from(Timer).where(Timer.due_at < overdue_before))
        yield GaugeMetricFamily("yishi_instances_in_error", "Instances waiting in status error for an admin to retry.", value=failed or 0)
        yield GaugeMetricFamily("yishi_timers_overdue", f"Timers due more than {OVERDUE_AFTER:.0f} s ago and not yet fired.",
                                value=overdue or 0)


def registry(engine: Engine | None = None) -> CollectorRegistry:
    """What a scrape reports: this process's samples, or every process's in multiprocess mode; and,
    given an engine, the gauges read from its database."""
    if os.environ.get(MULTIPROCESS_DIR):
        scraped = CollectorRegistry()
        MultiProcessCollector(scraped)
    else:
        from prometheus_client import REGISTRY

        scraped = CollectorRegistry()
        scraped.register(_Forward(REGISTRY))
    if engine is not None:
        scraped.register(DatabaseGauges(engine))
    return scraped


class _Forward:
    """The process's own metrics (the default registry), inside a registry of the scrape's own."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Any]:
        return self._source.collect()


def exposition(engine: Engine | None = None) -> tuple[bytes, str]:
    """The text exposition of a scrape, and its content type."""
    return generate_latest(registry(engine)), CONTENT_TYPE_LATEST


def install(app: Flask) -> None:
    """Count the app's requests and its engine's commands, and serve ``GET /metrics`` (no token: keep
    it off the reverse proxy's public side). Called before any other ``before_request`` hook, so a
    request refused by one (a 401) is counted too."""
    watch(app.extensions["yishi"])
    app.before_request(began)
    app.after_request(answered)
    app.add_url_rule("/metrics", "metrics", _scrape)


def began() -> None:
    g.metrics_began = time.perf_counter()


def answered(response: Response) -> Response:
    rule = request.url_rule
    began = g.get("metrics_began")
    requests(rule.rule if rule is not None else UNMATCHED, request.method).observe(
        response.status_code, time.perf_counter() - began if began is not None else 0.0)
    return response


def _scrape() -> Response:
    body, content_type = exposition(current_app.extensions["yishi"])
    return Response(body, content_type=content_type)
