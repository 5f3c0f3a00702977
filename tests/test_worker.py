"""The ``yishi worker`` loop: it outlives a failed sweep, and SIGTERM stops it at once, with exit 0."""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.kernel.commands import DeployDefinition, StartInstance
from engine.kernel.clock import ManualClock
from engine.bootstrap import Engine
from tests import bpmn_samples as b
from tests.helpers import Community

YISHI = str(Path(sys.executable).with_name("yishi"))
ROOT = Path(__file__).resolve().parent.parent
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def own_signal_handlers() -> Any:
    """The worker installs handlers for SIGTERM and SIGINT: pytest gets its own back afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@sqlite_only
def test_the_worker_logs_a_failed_sweep_and_goes_on(
    engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, own_signal_handlers: None,
) -> None:
    sweeps: list[float] = []

    def sweep(self: Engine, limit: int = 500, stop: Any = None) -> int:
        sweeps.append(time.monotonic())
        if len(sweeps) == 1:
            raise RuntimeError("the database went away")
        os.kill(os.getpid(), signal.SIGTERM)  # the second sweep ran: stop the worker as systemd would
        return 0

    monkeypatch.setattr(Engine, "fire_due_timers", sweep)
    with caplog.at_level(logging.ERROR):
        result = CliRunner().invoke(main, ["--database", database_url, "--audit-key", str(tmp_path / "key.pem"),
                                           "worker", "--interval", "0.2"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert len(sweeps) == 2 and sweeps[1] - sweeps[0] >= 0.2  # it waited its interval, then went on
    (failed,) = [r for r in caplog.records if r.name == "cli.server"]
    assert "sweep failed" in failed.getMessage() and failed.exc_info[1].args == ("the database went away",)


@sqlite_only
def test_sigterm_stops_a_sleeping_worker_within_seconds_with_exit_0(
    engine: Engine, community: Community, clock: ManualClock, database_url: str, tmp_path: Path,
) -> None:
    clock.set(datetime(2020, 1, 1, tzinfo=timezone.utc))  # a timer already due by the real clock: the worker's first sweep fires it
    engine.execute(DeployDefinition("due.bpmn", b.linear("due", b.timer_event("wait", '"PT1H"'), b.user_task("after"))))
    engine.execute(StartInstance("due"), community["chair"])
    worker = subprocess.Popen(
        [YISHI, "--database", database_url, "--audit-key", str(tmp_path / "key.pem"), "worker", "--interval", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert _line(worker, "fired timers of 1 instance(s)", timeout=60)  # in its loop, now sleeping for an hour
        began = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=5) == 0
        assert time.monotonic() - began < 5
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _line(process: subprocess.Popen[bytes], wanted: str, timeout: float) -> bool:
    """Whether the process prints a line containing ``wanted`` within ``timeout`` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([process.stdout], [], [], left)[0]:
            return False
        line = process.stdout.readline().decode()
        if not line:
            return False
        if wanted in line:
            return True
    return False
