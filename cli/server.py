"""Running the engine: ``serve`` (gunicorn, a production WSGI server, never Flask's development server) and the timer ``worker``."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import click

from cli.admin import print_demo, seed_demo
from cli.common import engine_from
from engine.bootstrap import Engine
from engine.webhooks import delivery as webhooks


log = logging.getLogger(__name__)

@click.command()
@click.option("--once", is_flag=True, help="Fire what is due now, sign a checkpoint if anything changed, and exit (for cron).")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
@click.option("--checkpoint-every", default=600.0, show_default=True,
              help="Seconds between signed checkpoints of every chain head (only when a history grew).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics (commands, timers fired, incidents) on this port, at /metrics.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address the metrics listen on.")
@click.option("--webhooks/--no-webhooks", "with_webhooks", default=True, show_default=True,
              help="Send due webhook deliveries (docs/webhooks.md).")
@click.option("--webhook-batch", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="Webhook deliveries claimed per round.")
@click.option("--webhook-timeout", default=webhooks.TIMEOUT_SECONDS, show_default=True, type=click.FloatRange(0.1, 60),
              help="Seconds to connect to a webhook's endpoint, and to wait for each read of its answer.")
@click.pass_obj
def worker(obj: dict[str, Any], once: bool, interval: float, checkpoint_every: float,
           metrics_port: int | None, metrics_host: str, with_webhooks: bool, webhook_batch: int,
           webhook_timeout: float) -> None:
    """Fire due BPMN timers, send due webhook deliveries, and sign checkpoints periodically.

    Several workers may run against one PostgreSQL database: each claims an instance before firing
    its timers, and checkpoints are signed one at a time. A sweep or a checkpoint that fails (the
    database is away) is logged and tried again after the interval. SIGTERM or SIGINT stops the worker
    once the instance it is firing has committed, and it exits 0. Webhook deliveries are claimed (several workers
    take different ones), posted, and each attempt recorded; a round stops sending once stopped.
    """
    engine = engine_from(obj)
    sending = _Webhooks(with_webhooks, webhook_batch, webhook_timeout)
    engine.db.migrate()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from api import metrics

        metrics.watch(engine)
        start_http_server(metrics_port, metrics_host, registry=metrics.registry())
    if once:
        _work(engine, None, checkpoint_now=True, once=True, sending=sending)
        return
    stop = _stopped_by_signals()
    next_checkpoint = time.monotonic()
    while not stop.is_set():
        try:
            if _work(engine, stop, checkpoint_now=time.monotonic() >= next_checkpoint, once=False, sending=sending):
                next_checkpoint = time.monotonic() + checkpoint_every
        except Exception:  # noqa: BLE001 — the worker outlives a failed sweep; the next one tries again
            log.exception("the worker's sweep failed; trying again in %s s", interval)
        stop.wait(interval)


def _stopped_by_signals() -> threading.Event:
    """An event set by SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C), so the worker stops between
    two instances' transactions rather than in one, and does not sleep out its interval first."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    return stop


class _Webhooks:
    """How the worker sends webhook deliveries: whether, how many per claim, with what timeout."""

    def __init__(self, enabled: bool, batch: int, timeout: float) -> None:
        self.enabled, self.batch, self.timeout = enabled, batch, timeout

    def send(self, engine: Engine, stop: threading.Event | None, once: bool) -> None:
        """Send what is due, a claim at a time, until nothing is due (or a round attempts nothing, or it is stopped).
        A failure here is the round's: the timers already fired, and the deliveries' claims lapse and are retried."""
        if not self.enabled:
            return
        total = webhooks.Round()
        while stop is None or not stop.is_set():
            done = webhooks.deliver_due(engine, stop, limit=self.batch, timeout=self.timeout)
            total = webhooks.Round(total.delivered + done.delivered, total.retrying + done.retrying,
                                   total.failed + done.failed, total.released + done.released)
            if done.attempted < self.batch or done.retrying or done.failed:
                break
        if total.attempted or once:
            click.echo(f"webhooks: {total.delivered} delivered, {total.retrying} to retry, {total.failed} failed")


def _work(engine: Engine, stop: threading.Event | None, *, checkpoint_now: bool, once: bool,
          sending: _Webhooks | None = None) -> bool:
    """One round of the worker: fire what is due, send due webhook deliveries, then sign a checkpoint if asked;
    whether it signed. ``--once`` (cron) reports even a sweep that fired nothing, and fails (exit 1) if the round does."""
    fired = engine.fire_due_timers(stop=stop)
    if fired or once:
        click.echo(f"fired timers of {fired} instance(s)")
    if sending is not None:
        sending.send(engine, stop, once)
    if not checkpoint_now:
        return False
    signed = engine.checkpoint("periodic", only_if_changed=True)
    if signed is not None:
        click.echo(f"checkpoint {signed.id} signed over {len(signed.heads)} chain head(s)")
    return True


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=16, show_default=True,
              help="Threads per worker: ballots its threads cast at the same moment share one transaction. "
                   "1 runs gunicorn's sync workers (one connection per request, no keep-alive).")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request to stdout.")
@click.option("--demo/--no-demo", "with_demo", default=True, show_default=True, help="Seed the demo community.")
@click.pass_obj
def serve(obj: dict[str, Any], host: str, port: int, workers: int, threads: int, access_log: bool, with_demo: bool) -> None:
    """Migrate, deploy the bundled processes, and serve the API with gunicorn."""
    engine = engine_from(obj)
    engine.db.migrate()
    for d in engine.deploy_bundled():
        kind = "decision table" if d.definition.kind == "dmn" else "process"
        click.echo(f"{kind} {d.definition.key} v{d.definition.version} ready")
    if with_demo:
        print_demo(seed_demo(engine, "demo"))
    assert engine.signer is not None
    click.echo(f"Checkpoints are signed with key {engine.signer.key_id[:16]}… ({obj['audit_key']})")
    click.echo(f"Web app: http://{host}:{port}/   Swagger UI: http://{host}:{port}/api/docs   "
               f"OpenAPI: http://{host}:{port}/api/openapi.json")
    engine.db.dispose()
    _empty_metrics_dir()
    _gunicorn(f"{host}:{port}", workers, threads, access_log, obj)


def _empty_metrics_dir() -> None:
    """Multiprocess metrics (``PROMETHEUS_MULTIPROC_DIR``, see ``api.metrics``): create the directory, or
    empty it of the previous run's samples, before gunicorn's processes count anew (as their counters do)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    for stale in Path(directory).glob("*.db"):
        stale.unlink()


def _gunicorn(bind: str, workers: int, threads: int, access_log: bool, obj: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication

    from api.app import create_app

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {"bind": bind, "workers": workers, "threads": threads, "accesslog": "-" if access_log else None,
                        "child_exit": lambda _server, worker: _process_exited(worker.pid)}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app({"YISHI_DATABASE_URL": obj["database"], "YISHI_AUDIT_KEY": obj["audit_key"],
                               "YISHI_DEMO_MODE": obj.get("demo_mode", False)})

    Server().run()


def _process_exited(pid: int) -> None:
    """gunicorn's ``child_exit`` hook: in multiprocess mode, forget the live samples of a worker process that is gone."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
