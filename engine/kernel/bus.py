"""The engine's front door: commands in, results out, one unit of work each.

``Engine.execute`` looks up the handler for a command, runs it in a fresh unit of work and
commits. Readers use ``Engine.read`` for a session that never writes. The API and the CLI talk
to the engine only through this class.
"""

from __future__ import annotations

import logging
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy.orm import Session

from engine.audit.sealing import checkpoints
from engine.audit.sealing.models import Checkpoint
from engine.identity import actors
from engine.identity.actors import Actor
from engine.kernel import definitions, instances
from engine.kernel.clock import Clock, DemoClock, SystemClock
from engine.kernel.commands import FireDueTimers, RecordTimerIncident
from engine.kernel.db import MIGRATION_LOCK, TIMER_CLAIM, Database, advisory_xact_lock, claimed
from engine.kernel.errors import LostRace, YishiError
from engine.kernel.group_commit import GroupCommit
from engine.kernel.models import Instance
from engine.kernel.timer_failures import TIMER_ATTEMPTS, TimerFailures
from engine.kernel.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
AHEAD_ATTEMPTS = 3
"""Times a workflow command is computed ahead again when its instance moved in between."""
Handler = Callable[[UnitOfWork, Any, Any], Any]
"""``handler(uow, actor, command)``: what a command does, inside its unit of work."""
BatchHandler = Callable[[UnitOfWork, list[tuple[str, Any]]], list[Any]]
"""``handler(uow, [(token, command), …])``: a result for each command written, None for each left to run alone."""
C = TypeVar("C")


@dataclass(frozen=True)
class Registration:
    handler: Handler
    needs_actor: bool
    steps_workflow: bool


HANDLERS: dict[type, Registration] = {}
"""Every command type and its handler, filled by ``@handles`` in each domain's handlers module."""
BATCHES: dict[type, BatchHandler] = {}
"""Command types that concurrent callers of one process may write in one transaction (``@handles_together``)."""
BATCHED_ALONE: set[type] = set()
"""The types whose batch handler writes even a lone command (``@handles_together(…, alone=True)``)."""
_PROCESS_SECRETS: dict[str, bytes] = {}


def handles(command: type, *, needs_actor: bool = True, steps_workflow: bool = False) -> Callable[[C], C]:
    """Register the decorated function as the handler of ``command``.

    ``needs_actor``: refuse to run it without an authenticated actor. ``steps_workflow``: the command runs a
    workflow step, computed on a snapshot before its transaction takes the writer (``Engine._computed_ahead``).
    """
    def register(handler: C) -> C:
        if command in HANDLERS:
            raise ValueError(f"{command.__name__} already has a handler")
        HANDLERS[command] = Registration(handler, needs_actor, steps_workflow)  # type: ignore[arg-type]
        return handler
    return register


def handles_together(command: type, *, alone: bool = False) -> Callable[[C], C]:
    """Register the decorated function as the batch handler of ``command`` (``Engine.execute_together``).

    ``alone``: a lone command goes through the batch handler too (and, left aside, through the single path), for a
    type whose single path costs more statements than its batch handler's."""
    def register(handler: C) -> C:
        BATCHES[command] = handler  # type: ignore[assignment]
        if alone:
            BATCHED_ALONE.add(command)
        return handler
    return register


CommandObserver = Callable[[str, str], None]
"""Told of every command the engine ran: its type's name and its outcome (``outcome``)."""


def outcome(result: Any = None, error: BaseException | None = None) -> str:
    """A command's outcome, for metrics: ``ok``; ``incident`` when it left its instance failed (in
    ``error``, for an admin to retry); ``noop`` when there was nothing to do (a timer no longer due);
    else the refusal's error code (``conflict``, ``permission_denied``,
    …) or ``internal_error``."""
    if error is not None:
        return error.code if isinstance(error, YishiError) else "internal_error"
    if result is None:
        return "noop"
    return "incident" if isinstance(result, Instance) and result.status == "error" else "ok"


def _cause(exc: BaseException) -> str:
    """An exception as an incident names it, in the instance's history: its type and its first line, at most
    200 characters — a database error's next lines give the statement and its parameters, which may hold
    task data; the whole traceback goes to the log."""
    lines = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)[:200]


@dataclass
class EngineConfig:
    processes_dir: Path = Path(__file__).resolve().parents[2] / "processes"
    audit_key: Path | None = None
    """The Ed25519 key that signs checkpoints (created on first use); None: this engine signs none."""
    demo: bool = False
    """Demo mode (``yishi serve --demo`` / ``yishi demo``): an admin may advance the demo clock. Off in production."""

    @property
    def forms_dir(self) -> Path:
        return self.processes_dir / "forms"


class EngineContext:
    """What a handler may need of the engine that runs it, beyond its unit of work (``uow.context``)."""

    def __init__(self, config: EngineConfig, signer: Callable[[], checkpoints.Signer | None]) -> None:
        self.config = config
        self._signer = signer
        self._secrets: dict[str, bytes] = {}

    def secret(self, purpose: str) -> bytes:
        """A secret for ``purpose``, derived from the audit key (outside the database, the same for every process of a
        deployment). An engine without a key (tests, a one-off script) draws one per process and purpose."""
        if purpose not in self._secrets:
            signer = self._signer()
            self._secrets[purpose] = signer.derive(purpose) if signer else _PROCESS_SECRETS.setdefault(purpose, secrets.token_bytes(32))
        return self._secrets[purpose]


class Engine:
    def __init__(self, database: Database, clock: Clock | None = None, config: EngineConfig | None = None) -> None:
        self.db = database
        self.config = config or EngineConfig()
        self.clock: Clock = clock or SystemClock()
        if self.config.demo and not isinstance(self.clock, DemoClock):
            from engine.kernel import demo  # the demo clock reads its offset from the database

            self.clock = DemoClock(demo.offset_loader(database), system=self.clock)
        if not HANDLERS:
            raise RuntimeError("no command handlers are registered: build the engine from engine.bootstrap")
        self._timer_failures = TimerFailures()
        self.context = EngineContext(self.config, lambda: self.signer)
        self._together = {command: GroupCommit(partial(self.run_together, command)) for command in BATCHES}
        self.observers: list[CommandObserver] = []
        """Told of each command after it ran (the API's and the worker's metrics); each must be cheap and never raise."""

    def execute(self, command: Any, actor: Actor | None = None) -> Any:
        """Run one command in one transaction; nothing is written unless all of it succeeds."""
        return self._execute(command, lambda uow: actor)

    def execute_as(self, token: str, command: Any) -> Any:
        """``execute`` for the member an API token names.

        The busiest request, a ballot, should not pay for a connection and a transaction of its own
        just to read the token, so it is read in the command's transaction — except where units of
        work take turns (SQLite), since every other writer would wait through that read too; there a
        read costs no round trip, so it comes first, outside the writer's turn.
        """
        if self.db.writer_lock.takes_turns:
            with self.db.autocommit() as connection:
                actor = actors.authenticate(connection, token)
            return self.execute(command, actor)
        return self._execute(command, lambda uow: actors.authenticate(uow.session.connection(), token))

    def execute_together(self, token: str, command: Any) -> Any:
        """``execute_as``, written together with the commands of its type this process is running at the same moment.

        Threads of one process that send such a command at once share a transaction (``GroupCommit``, and the
        type's batch handler registered with ``@handles_together``); a command the batch leaves aside is run on
        its own, exactly as ``execute_as`` runs it. A type without a batch handler is run alone.
        """
        together = self._together.get(type(command))
        result = together.submit((token, command)) if together is not None else None
        return result if result is not None else self.execute_as(token, command)

    def run_together(self, command_type: type, requests: list[tuple[str, Any]]) -> list[Any]:
        """Commands (token, command) in one transaction where they can share it: a result for each written,
        None for each the batch left aside (the caller runs it alone); a lone command runs alone at once, its
        refusal returned as its outcome, unless its type is in ``BATCHED_ALONE``."""
        if len(requests) == 1 and command_type not in BATCHED_ALONE:  # the single path costs fewer statements
            try:
                return [self.execute_as(*requests[0])]
            except Exception as exc:  # noqa: BLE001 — raised in the caller's thread by GroupCommit
                return [exc]
        try:
            with self._unit() as uow:
                results: list[Any] = list(BATCHES[command_type](uow, requests))
                uow.commit()
        except YishiError:  # a concurrent writer took a row first: each command tries alone
            return [None] * len(requests)
        except Exception:  # noqa: BLE001 — nothing was written; the single path answers each command
            log.exception("a batch of %d %s failed; running each on its own", len(requests), command_type.__name__)
            return [None] * len(requests)
        for result in results:  # those left aside (None) are observed when they run alone
            if result is not None:
                self._observe(command_type.__name__, outcome(None if isinstance(result, BaseException) else result,
                                                             result if isinstance(result, BaseException) else None))
        if uow.published is not None:
            self._checkpoint_after(uow.published)
        return results

    def _unit(self, **options: Any) -> UnitOfWork:
        uow = UnitOfWork(self.db, self.clock, **options)
        uow.context = self.context
        return uow

    def _execute(self, command: Any, caller: Callable[[UnitOfWork], Actor | None]) -> Any:
        registration = HANDLERS[type(command)]
        try:
            result = self._run(registration, command, caller)
        except BaseException as exc:
            self._observe(type(command).__name__, outcome(error=exc))
            raise
        self._observe(type(command).__name__, outcome(result))
        return result

    def _run(self, registration: Registration, command: Any, caller: Callable[[UnitOfWork], Actor | None]) -> Any:
        handler = registration.handler
        if registration.needs_actor:
            handler = partial(_with_actor, registration.handler)
        for attempt in range(1, AHEAD_ATTEMPTS + 1):
            ahead = self._computed_ahead(handler, command, caller) if registration.steps_workflow else None
            try:
                with self._unit(precomputed=ahead, now=ahead.now if ahead else None) as uow:
                    result = handler(uow, caller(uow), command)
                    uow.commit()
            except instances.InstanceMoved:
                if attempt == AHEAD_ATTEMPTS:
                    raise
                continue
            except LostRace:
                if attempt > 1:
                    raise
                continue  # nothing was written: decide again on what the concurrent command wrote
            if uow.published is not None:
                self._checkpoint_after(uow.published)
            return result
        raise AssertionError("unreachable")

    def _computed_ahead(self, handler: Handler, command: Any, caller: Callable[[UnitOfWork], Actor | None]) -> instances.Ahead | None:
        """The command's workflow step, computed on a snapshot before its unit of work takes the writer
        (``instances.advance``); None when the command refuses or makes no step, which its real unit then
        says again, as of the moment it writes."""
        try:
            with self._unit(ahead=True) as uow:
                handler(uow, caller(uow), command)
        except instances.ComputedAhead as computed:
            return computed.ahead
        except YishiError:
            return None
        return None

    def _observe(self, command: str, result: str) -> None:
        for observer in self.observers:
            observer(command, result)

    def _checkpoint_after(self, published: str) -> None:
        """The command has committed: a checkpoint lost to a concurrent one must not fail it (the
        concurrent checkpoint, or the worker's next one, covers the same heads). Its reason names
        no result: every community reads it, and the result is in its own history anyway."""
        try:
            self.checkpoint(checkpoints.PUBLISHED)
        except YishiError as exc:
            log.warning("no checkpoint after %s: %s", published, exc.message)

    @cached_property
    def signer(self) -> checkpoints.Signer | None:
        return checkpoints.Signer.from_file(self.config.audit_key) if self.config.audit_key else None

    def checkpoint(self, reason: str, *, only_if_changed: bool = False) -> Checkpoint | None:
        """Sign every chain head now: after each published result, and periodically (the worker)."""
        if self.signer is None:
            return None
        with self._unit() as uow:
            row = checkpoints.make(uow.session, self.signer, uow.now, reason, only_if_changed=only_if_changed)
            uow.commit()
            return row

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; it is rolled back, never committed."""
        session = self.db.session()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def fire_due_timers(self, limit: int = 500, stop: threading.Event | None = None) -> int:
        """Fire every instance's due timers, one instance per transaction; returns how many fired.

        Several workers may sweep one PostgreSQL database, each from its own list of due instances.
        So that two never compute the same step (and one lose on the version check), a sweep claims
        each instance (``engine.db.claimed``: an advisory lock, ``TIMER_CLAIM``) for the whole command —
        the step computed ahead and the transaction that writes it — and skips an instance another
        sweep holds; a sweep that claims it after another has fired it finds nothing due. (On SQLite,
        which writes one at a time, a second sweep leaves the firing to the first.) One instance's
        trouble (a user's request changed it in the same moment, a bug) must not stop the sweep; an
        instance whose firing fails is tried again only after a backoff, and after ``TIMER_ATTEMPTS``
        failures becomes an incident (``engine.kernel.timer_failures``). Once ``stop`` is set, the sweep ends
        after the instance it is firing.
        """
        with self.read() as session:  # room beyond the limit for those backing off, which are skipped
            due = instances.due_instance_ids(session, self.clock.now(), limit + len(self._timer_failures))
        self._timer_failures.keep_only(due)
        fired = 0
        for instance_id in due:
            if stop is not None and stop.is_set():
                break
            if self._timer_failures.backing_off(instance_id, self.clock.now()):
                continue
            with claimed(self.db, TIMER_CLAIM, instance_id) as ours:
                if ours:  # else another sweep is firing it
                    fired += self._fire_timers_of(instance_id)
        return fired

    def _fire_timers_of(self, instance_id: str) -> bool:
        """Fire one instance's due timers: whether they fired. A refusal (``YishiError``) is the instance's
        ordinary business and is tried again next sweep; any other failure is counted (``_timers_failed``)."""
        try:
            fired = self.execute(FireDueTimers(instance_id)) is not None
        except YishiError as exc:
            log.warning("timers of instance %s not fired: %s", instance_id, exc.message)
            return False
        except Exception as exc:  # noqa: BLE001 — one instance's failure must not stop the sweep
            self._timers_failed(instance_id, exc)
            return False
        self._timer_failures.forget(instance_id)
        return fired

    def _timers_failed(self, instance_id: str, exc: Exception) -> None:
        """Count a failed firing; at ``TIMER_ATTEMPTS`` make the instance an incident. Should that fail too
        (the database is away), the count stays and the next attempt, after the longest backoff yet, decides."""
        failures = self._timer_failures.failed(instance_id, self.clock.now())
        if failures < TIMER_ATTEMPTS:
            log.error("timers of instance %s failed (%d of %d attempts)", instance_id, failures, TIMER_ATTEMPTS, exc_info=exc)
            return
        try:
            incident = self.execute(RecordTimerIncident(instance_id, failures, _cause(exc)))
        except Exception:  # noqa: BLE001 — the instance stays due, and backing off
            log.exception("timers of instance %s failed %d times, and it could not be made an incident", instance_id, failures)
            return
        self._timer_failures.forget(instance_id)
        if incident is not None:  # else a command moved it on meanwhile: nothing is due any more
            log.error("timers of instance %s failed %d times: it is an incident, until an admin retries it",
                      instance_id, failures, exc_info=exc)

    def advance_demo_clock(self, seconds: int, *, actor: Actor | None = None, token: str | None = None) -> Any:
        """Advance the demo clock (``AdvanceDemoClock``, as the actor or the token's member), then fire the timers
        that became due, at the advanced time, and sign a checkpoint naming the advance."""
        from engine.kernel.commands import AdvanceDemoClock

        command = AdvanceDemoClock(seconds)
        advanced = self.execute_as(token, command) if token is not None else self.execute(command, actor)
        if isinstance(self.clock, DemoClock):
            self.clock.advanced(advanced.offset)
        fired = self.fire_due_timers()
        reason = f"demo clock advanced {advanced.seconds}s from {advanced.from_at.isoformat()} to {advanced.to_at.isoformat()}"
        try:
            self.checkpoint(reason)
        except YishiError as exc:
            log.warning("no checkpoint after the demo clock advance: %s", exc.message)
        return advanced._replace(fired=fired)

    def deploy_bundled(self) -> list[definitions.Deployment]:
        """Deploy the bundled processes and decision tables as the platform's versions (identical content is a
        no-op); servers starting together on one PostgreSQL database take turns (``MIGRATION_LOCK``) rather
        than deploy the same version twice."""
        with self._unit() as uow:
            advisory_xact_lock(uow.session.connection(), MIGRATION_LOCK)
            deployments = definitions.deploy_directory(uow.session, self.config.processes_dir, now=uow.now)
            uow.commit()
            return deployments


def _with_actor(handler: Handler, uow: UnitOfWork, actor: Actor | None, command: Any) -> Any:
    if actor is None:
        raise TypeError(f"{type(command).__name__} needs an authenticated actor")
    return handler(uow, actor, command)
