"""Scripts run in child processes: bounded time and memory whatever the script does.

The sandbox (``engine.bpmn.sandbox``) bounds what a script may do by counting its steps and
guarding single operations, but a sandbox inside the server process cannot see C-level work —
``c == d`` over nested aliased lists runs in C holding the GIL, and froze a gunicorn worker until
it was killed — nor bound total memory. So every script and expression of a definition is run in
a child process, from outside the interpreter that runs it:

- **memory**: the child runs under ``RLIMIT_AS`` (``MEMORY_LIMIT_BYTES``): an allocation past it
  fails in the child, which the parent reports as the script exceeding its memory;
- **time**: the parent waits ``HARD_TIME_LIMIT_SECONDS`` for the answer, then kills the child
  (``SIGKILL``: nothing a script does can ignore it) and reports the script as over its time.

The children are started once per server process (fresh interpreters, see ``_Child``) and reused; a child that was killed or died is
replaced on the next use. What crosses the pipe is plain JSON-like data (the sandbox copies task
data in and out as plain values anyway): the source, the task data and SpiffWorkflow's external
context. A script's refusal or failure comes back as the same ``ScriptError`` it would raise in
the process, so the engine's handling (the instance fails, an admin may retry) is unchanged.

Cost: one round trip over a pipe per script or expression — measured by ``bench/workflows.py``
and in ``docs/architecture.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from multiprocessing.connection import Connection
from typing import Any, Literal

from engine.kernel.errors import ScriptError

HARD_TIME_LIMIT_SECONDS = 3.0
"""Wall-clock time a script may take before its child is killed: three times the sandbox's own
budget (``TIME_BUDGET_SECONDS``), which refuses a runaway Python loop long before; this one stops
what the sandbox cannot interrupt (C-level work)."""

MEMORY_LIMIT_BYTES = 768 * 1024 * 1024
"""Address space of a script's child (the interpreter and its libraries take about 150 MB of it)."""

WRITER_SCRIPT_SECONDS = 0.5
"""CPU time the scripts of a step may use, together, while the step holds the database writer: a
step is computed before its transaction takes the writer (``engine.kernel.instances.advance``), except
from its first service task on, whose operation writes domain records; the scripts after that task
run in the transaction, under this budget (what ran before is remembered, not run again). CPU
time, as the children measure it, not wall-clock time: a loaded machine must not fail a process
whose scripts are quick; the wait for each answer is cut to ``WRITER_WAIT_FACTOR`` times what is left."""

WRITER_WAIT_FACTOR = 4

POOL_SIZE = 2
"""Children per server process: scripts are short, and a process's threads take turns at a free child."""

Mode = Literal["eval", "exec"]


def serve(fd: int, memory_limit: int) -> None:
    """The child's loop (``python -c``, on its end of a socket pair): run each request in the sandbox,
    answer with its value or its error."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the child ends
    from engine.bpmn import sandbox

    connection = Connection(fd)
    while True:
        try:
            mode, source, data, external = connection.recv()
        except (EOFError, OSError):
            return
        started = time.process_time()
        try:
            answer: tuple[str, Any] = ("ok", sandbox.run_here(mode, source, data, external))
        except ScriptError as error:
            if error.details.get("error_type") == "MemoryError":  # the sandbox's word for what the limit refused
                answer = ("memory", None)
            else:
                answer = ("script_error", (error.message, dict(error.details)))
        except MemoryError:
            answer = ("memory", None)
        except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it as a ScriptError
            answer = ("error", f"{type(error).__name__}: {error}")
        connection.send((*answer, time.process_time() - started))


class _Child:
    """A fresh interpreter (not a fork: a fork of a threaded gunicorn worker could inherit locks other
    threads held; not multiprocessing's spawn either, which re-imports the parent's main module)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        program = f"from engine.bpmn.isolation import serve; serve({theirs.fileno()}, {MEMORY_LIMIT_BYTES})"
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen([sys.executable, "-c", program], pass_fds=[theirs.fileno()], env=environment,
                                        stdin=subprocess.DEVNULL)
        theirs.close()
        self.connection = Connection(ours.detach())
        self.owner = os.getpid()

    def run(self, request: tuple[Mode, str, dict[str, Any], dict[str, Any]], seconds: float) -> tuple[str, Any, float]:
        """The answer, and the CPU seconds the script used (the whole wait, when it had to be stopped)."""
        self.connection.send(request)
        if not self.connection.poll(seconds):
            self.kill()
            return "time", None, seconds
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            self.kill()
            return "memory", None, 0.0  # the child died mid-script: the address-space limit is the only thing that kills it

    @property
    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def kill(self) -> None:
        if self.owner != os.getpid():
            return  # a forked copy of another process's child: not ours to end
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        self.connection.close()


class Isolation:
    """A pool of script children for this process (gunicorn workers each start their own)."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        self._idle: queue.LifoQueue[_Child | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)  # started on first use

    def run(self, mode: Mode, source: str, data: dict[str, Any], external: dict[str, Any]) -> Any:
        memo, key = _memo.get(), None
        if memo is not None:
            key = _memo_key(mode, source, data, external)
            if key in memo:
                return _answer(*memo[key])
        outcome, value = self._run_in_child(mode, source, data, external)
        if memo is not None and key is not None:
            memo[key] = (outcome, value)
        return _answer(outcome, value)

    def _run_in_child(self, mode: Mode, source: str, data: dict[str, Any], external: dict[str, Any]) -> tuple[str, Any]:
        left = _writer_left.get()
        if left is not None and left[0] <= 0:
            return "writer", None
        seconds = HARD_TIME_LIMIT_SECONDS if left is None else min(HARD_TIME_LIMIT_SECONDS, left[0] * WRITER_WAIT_FACTOR + 0.25)
        child = self._idle.get()
        try:
            if child is None or not child.alive:
                child = _Child()
            outcome, value, used = child.run((mode, source, data, external), seconds)
        except BaseException:
            if child is not None:
                child.kill()
            self._idle.put(None)
            raise
        self._idle.put(child if child.alive else None)
        if left is not None:
            left[0] -= used
            if left[0] < 0 or (outcome == "time" and seconds < HARD_TIME_LIMIT_SECONDS):
                return "writer", None
        return outcome, value

    def close(self) -> None:
        """Stop every child (the server's shutdown; tests)."""
        while True:
            try:
                child = self._idle.get_nowait()
            except queue.Empty:
                return
            if child is not None:
                child.kill()


def _answer(outcome: str, value: Any) -> Any:
    if outcome == "ok":
        return value
    if outcome == "script_error":
        message, details = value
        raise ScriptError(message, **details)
    if outcome == "time":
        raise ScriptError(f"the script ran past the hard time limit of {HARD_TIME_LIMIT_SECONDS:g} s and was stopped",
                          limit="HARD_TIME_LIMIT_SECONDS", seconds=HARD_TIME_LIMIT_SECONDS)
    if outcome == "writer":
        raise ScriptError(f"the scripts this step runs after its service task took more than the {WRITER_SCRIPT_SECONDS:g} s "
                          "they may take while the step holds the database writer: compute before the service task, "
                          "or in a step of its own", limit="WRITER_SCRIPT_SECONDS", seconds=WRITER_SCRIPT_SECONDS)
    if outcome == "memory":
        raise ScriptError(f"the script used more than the memory limit of {MEMORY_LIMIT_BYTES // 2**20} MB and was stopped",
                          limit="MEMORY_LIMIT_BYTES", megabytes=MEMORY_LIMIT_BYTES // 2**20)
    raise ScriptError(f"the script failed in its sandbox: {value}")


_memo: ContextVar[dict[bytes, tuple[str, Any]] | None] = ContextVar("yishi_script_memo", default=None)
_writer_left: ContextVar[list[float] | None] = ContextVar("yishi_writer_left", default=None)
"""CPU seconds left to the scripts of a step holding the writer (a one-item list: the step's scripts share it)."""


@contextmanager
def remembering(memo: dict[bytes, tuple[str, Any]]) -> Iterator[None]:
    """Scripts answered from ``memo`` where it holds them, and their answers kept there: a script is a
    pure function of its source and data (the sandbox gives it no clock, no randomness, no I/O), so a
    step computed ahead of its transaction lends its scripts' answers to the same step run in it."""
    token = _memo.set(memo)
    try:
        yield
    finally:
        _memo.reset(token)


@contextmanager
def holding_the_writer() -> Iterator[None]:
    """Scripts run from here on share ``WRITER_SCRIPT_SECONDS`` of CPU time."""
    token = _writer_left.set([WRITER_SCRIPT_SECONDS])
    try:
        yield
    finally:
        _writer_left.reset(token)


def _memo_key(mode: Mode, source: str, data: dict[str, Any], external: dict[str, Any]) -> bytes:
    document = json.dumps([mode, source, data, external], sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(document.encode()).digest()


SCRIPTS = Isolation()
"""This process's children, used by every workflow's script engine."""
