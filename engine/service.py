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
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy.orm import Session

from engine import commands as c
from engine import consultation, conventions, corrective_actions, definitions, identity, instances, pdca, service_records, votes
from engine.audit import checkpoints
from engine.clock import Clock, SystemClock
from engine.db import MIGRATION_LOCK, TIMER_CLAIM, Database, advisory_xact_lock, claimed
from engine.errors import NotFound, YishiError
from engine.group_commit import GroupCommit
from engine.identity import Actor
from engine.models import Checkpoint, Community, Instance
from engine.timer_failures import TIMER_ATTEMPTS, TimerFailures
from engine.unit_of_work import UnitOfWork
from engine.voting.seals import BallotSeal

log = logging.getLogger(__name__)
WORKFLOW_COMMANDS = (c.StartInstance, c.CompleteTask, c.DeliverMessage, c.FireDueTimers, c.RetryInstance)
"""Commands that run a workflow step: computed before their transaction takes the writer."""
AHEAD_ATTEMPTS = 3
"""Times a workflow command is computed ahead again when its instance moved in between."""
SEAL_PURPOSE = "yishi-ballot-seal/1"
_PROCESS_SEAL = secrets.token_bytes(32)
Handler = Callable[[UnitOfWork, Actor | None, Any], Any]
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


def _actor(actor: Actor | None) -> Actor:
    if actor is None:
        raise TypeError("this command needs an authenticated actor")
    return actor


@dataclass
class EngineConfig:
    processes_dir: Path = Path(__file__).resolve().parent.parent / "processes"
    audit_key: Path | None = None
    """The Ed25519 key that signs checkpoints (created on first use); None: this engine signs none."""

    @property
    def forms_dir(self) -> Path:
        return self.processes_dir / "forms"


class Engine:
    def __init__(self, database: Database, clock: Clock | None = None, config: EngineConfig | None = None) -> None:
        self.db = database
        self.clock = clock or SystemClock()
        self.config = config or EngineConfig()
        self._handlers: dict[type, Handler] = {
            c.DeployDefinition: self._deploy,
            c.AdoptDefinition: self._adopt,
            c.StartInstance: lambda uow, a, cmd: instances.start(uow, _actor(a), cmd.definition_key, cmd.variables),
            c.CompleteTask: lambda uow, a, cmd: instances.complete(uow, _actor(a), cmd.task_id, cmd.data),
            c.DeliverMessage: lambda uow, a, cmd: instances.deliver_message(uow, _actor(a), cmd.instance_id, cmd.message, cmd.payload),
            c.FireDueTimers: lambda uow, a, cmd: instances.fire_due_timers(uow, cmd.instance_id),
            c.RetryInstance: lambda uow, a, cmd: instances.retry(uow, _actor(a), cmd.instance_id, cmd.data),
            c.RecordTimerIncident: lambda uow, a, cmd: instances.timers_incident(uow, cmd.instance_id, cmd.failures, cmd.cause),
            c.SubmitOpinion: lambda uow, a, cmd: consultation.submit(uow, _actor(a), cmd.instance_id, cmd.text),
            c.EditOpinion: lambda uow, a, cmd: consultation.edit(uow, _actor(a), cmd.opinion_id, cmd.text),
            c.WithdrawOpinion: lambda uow, a, cmd: consultation.withdraw(uow, _actor(a), cmd.opinion_id),
            c.AnswerOpinion: lambda uow, a, cmd: consultation.answer(uow, _actor(a), cmd.opinion_id, cmd.verdict, cmd.reason),
            c.CreateCommunity: lambda uow, a, cmd: identity.create_community(uow.session, cmd.slug, cmd.name, cmd.timezone, uow.now),
            c.AddMember: self._add_member,
            c.CastBallot: lambda uow, a, cmd: votes.cast(
                uow, self.seal, _actor(a), cmd.vote_id, cmd.choice, idempotency_key=cmd.idempotency_key, previous_receipt=cmd.previous_receipt),
            c.EnterPaperBallot: lambda uow, a, cmd: votes.enter_paper(uow, self.seal, _actor(a), cmd.vote_id, cmd.member_id, cmd.choice),
            c.CorrectPaperBallot: lambda uow, a, cmd: votes.correct_paper(
                uow, self.seal, _actor(a), cmd.vote_id, cmd.member_id, cmd.receipt, cmd.choice),
            c.IssueToken: self._issue_token,
            c.ProposeAmendment: lambda uow, a, cmd: conventions.propose(uow, _actor(a), cmd),
            c.SupportAmendment: lambda uow, a, cmd: conventions.support(uow, _actor(a), cmd.amendment_id),
            c.WithdrawAmendment: lambda uow, a, cmd: conventions.withdraw(uow, _actor(a), cmd.amendment_id),
            c.DecideAmendment: lambda uow, a, cmd: conventions.decide(uow, _actor(a), cmd),
            c.CommentOnArticle: lambda uow, a, cmd: conventions.comment(uow, _actor(a), cmd),
            c.TightenStandard: lambda uow, a, cmd: pdca.tighten_standard(uow, _actor(a), cmd.series_id, cmd.targets),
            c.EndSeries: lambda uow, a, cmd: pdca.end_series(uow, _actor(a), cmd.series_id, cmd.reason),
            c.AddServiceRecords: lambda uow, a, cmd: service_records.add_records(uow, _actor(a), cmd.cycle_id, cmd.rows, cmd.csv),
            c.AddMeasurements: lambda uow, a, cmd: service_records.add_measurements(uow, _actor(a), cmd.cycle_id, cmd.rows, cmd.csv),
            c.RateService: lambda uow, a, cmd: service_records.rate(uow, _actor(a), cmd.cycle_id, cmd.score, cmd.comment),
            c.FileServiceRequest: lambda uow, a, cmd: service_records.file_request(uow, _actor(a), cmd.cycle_id, cmd.kind, cmd.text),
            c.AnswerServiceRequest: lambda uow, a, cmd: service_records.answer_request(uow, _actor(a), cmd.request_id, cmd.answer),
            c.AssignCorrectiveAction: lambda uow, a, cmd: corrective_actions.assign(
                uow, _actor(a), cmd.cycle_id, cmd.indicator, cmd.description, cmd.owner_id, cmd.due_date),
            c.ReportCorrectiveAction: lambda uow, a, cmd: corrective_actions.report_done(uow, _actor(a), cmd.action_id, cmd.report),
            c.VerifyCorrectiveAction: lambda uow, a, cmd: corrective_actions.verify(uow, _actor(a), cmd.action_id, cmd.effective, cmd.note),
        }

        self._timer_failures = TimerFailures()
        self._ballots: GroupCommit[tuple[str, c.CastBallot], votes.Receipt | None] = GroupCommit(self.cast_together)
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
                actor = identity.authenticate(connection, token)
            return self.execute(command, actor)
        return self._execute(command, lambda uow: identity.authenticate(uow.session.connection(), token))

    def cast(self, token: str, command: c.CastBallot) -> votes.Receipt:
        """A ballot from the API, written together with the other ballots this process is casting.

        Threads of one process that cast at the same moment share a transaction (``GroupCommit``,
        ``votes.cast_together``); a ballot the batch leaves aside — anything but a plain first
        ballot — is cast on its own, exactly as ``execute_as`` casts it.
        """
        receipt = self._ballots.submit((token, command))
        return receipt if receipt is not None else self.execute_as(token, command)

    def cast_together(self, requests: list[tuple[str, c.CastBallot]]) -> list[votes.Receipt | BaseException | None]:
        """Ballots (token, cast) in one transaction where they can share it: a receipt for each
        ballot written, None for each the batch left aside (the caller casts it alone); a lone
        ballot is cast alone at once, its refusal returned as its outcome."""
        if len(requests) == 1:  # no one to share with: the single path costs fewer statements
            try:
                return [self.execute_as(*requests[0])]
            except Exception as exc:  # noqa: BLE001 — raised in the caller's thread by GroupCommit
                return [exc]
        try:
            with UnitOfWork(self.db, self.clock) as uow:
                receipts: list[votes.Receipt | BaseException | None] = list(votes.cast_together(uow, self.seal, requests))
                uow.commit()
        except YishiError:  # a concurrent writer took a voter or a key first: each ballot tries alone
            return [None] * len(requests)
        except Exception:  # noqa: BLE001 — nothing was written; the single path answers each ballot
            log.exception("a batch of %d ballots failed; casting each on its own", len(requests))
            return [None] * len(requests)
        for receipt in receipts:  # those left aside (None) are observed when they are cast alone
            if receipt is not None:
                self._observe("CastBallot", outcome(None if isinstance(receipt, BaseException) else receipt,
                                                    receipt if isinstance(receipt, BaseException) else None))
        if uow.published is not None:
            self._checkpoint_after(uow.published)
        return receipts

    def _execute(self, command: Any, caller: Callable[[UnitOfWork], Actor | None]) -> Any:
        handler = self._handlers[type(command)]
        try:
            result = self._run(handler, command, caller)
        except BaseException as exc:
            self._observe(type(command).__name__, outcome(error=exc))
            raise
        self._observe(type(command).__name__, outcome(result))
        return result

    def _run(self, handler: Handler, command: Any, caller: Callable[[UnitOfWork], Actor | None]) -> Any:
        for attempt in range(1, AHEAD_ATTEMPTS + 1):
            ahead = self._computed_ahead(handler, command, caller) if isinstance(command, WORKFLOW_COMMANDS) else None
            try:
                with UnitOfWork(self.db, self.clock, precomputed=ahead, now=ahead.now if ahead else None) as uow:
                    result = handler(uow, caller(uow), command)
                    uow.commit()
            except instances.InstanceMoved:
                if attempt == AHEAD_ATTEMPTS:
                    raise
                continue
            if uow.published is not None:
                self._checkpoint_after(uow.published)
            return result
        raise AssertionError("unreachable")

    def _computed_ahead(self, handler: Handler, command: Any, caller: Callable[[UnitOfWork], Actor | None]) -> instances.Ahead | None:
        """The command's workflow step, computed on a snapshot before its unit of work takes the writer
        (``instances.advance``); None when the command refuses or makes no step, which its real unit then
        says again, as of the moment it writes."""
        try:
            with UnitOfWork(self.db, self.clock, ahead=True) as uow:
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

    @cached_property
    def seal(self) -> BallotSeal:
        """The secret that keys what participations keep of voters' requests, derived from the audit key
        (outside the database, the same for every process of a deployment). An engine without a key
        (tests, a one-off script) draws one per process: its idempotency keys then hold only as long."""
        return BallotSeal(self.signer.derive(SEAL_PURPOSE) if self.signer else _PROCESS_SEAL)

    def checkpoint(self, reason: str, *, only_if_changed: bool = False) -> Checkpoint | None:
        """Sign every chain head now: after each published result, and periodically (the worker)."""
        if self.signer is None:
            return None
        with UnitOfWork(self.db, self.clock) as uow:
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
        failures becomes an incident (``engine.timer_failures``). Once ``stop`` is set, the sweep ends
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
            fired = self.execute(c.FireDueTimers(instance_id)) is not None
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
            incident = self.execute(c.RecordTimerIncident(instance_id, failures, _cause(exc)))
        except Exception:  # noqa: BLE001 — the instance stays due, and backing off
            log.exception("timers of instance %s failed %d times, and it could not be made an incident", instance_id, failures)
            return
        self._timer_failures.forget(instance_id)
        if incident is not None:  # else a command moved it on meanwhile: nothing is due any more
            log.error("timers of instance %s failed %d times: it is an incident, until an admin retries it",
                      instance_id, failures, exc_info=exc)

    def deploy_bundled(self) -> list[definitions.Deployment]:
        """Deploy the bundled processes and decision tables as the platform's versions (identical content is a
        no-op); servers starting together on one PostgreSQL database take turns (``MIGRATION_LOCK``) rather
        than deploy the same version twice."""
        with UnitOfWork(self.db, self.clock) as uow:
            advisory_xact_lock(uow.session.connection(), MIGRATION_LOCK)
            deployments = definitions.deploy_directory(uow.session, self.config.processes_dir, now=uow.now)
            uow.commit()
            return deployments

    def _deploy(self, uow: UnitOfWork, actor: Actor | None, cmd: c.DeployDefinition) -> definitions.Deployment:
        """A community admin's deployment is the community's; only a caller without an actor — the CLI,
        run by whoever holds the database — deploys the platform's (every API request has an actor)."""
        if actor is not None:
            actor.require("admin")
        return definitions.deploy(
            uow.session, cmd.filename, cmd.source, forms_dir=self.config.forms_dir, now=uow.now,
            deployed_by=actor.member_id if actor else None, community_id=actor.community_id if actor else None,
        )

    def _adopt(self, uow: UnitOfWork, actor: Actor | None, cmd: c.AdoptDefinition) -> Any:
        _actor(actor).require("admin")
        return definitions.adopt(uow.session, _actor(actor).community_id, cmd.key, cmd.version, now=uow.now,
                                 adopted_by=_actor(actor).member_id)

    def _add_member(self, uow: UnitOfWork, actor: Actor | None, cmd: c.AddMember) -> Any:
        community = uow.session.get(Community, _actor(actor).community_id)
        if community is None:
            raise NotFound("community not found")
        _actor(actor).require("admin")
        return identity.add_member(uow.session, community, cmd.name, cmd.roles, uow.now, cmd.household, cmd.area)

    def _issue_token(self, uow: UnitOfWork, actor: Actor | None, cmd: c.IssueToken) -> str:
        _actor(actor).require("admin")
        member = identity.get_member(uow.session, _actor(actor), cmd.member_id)
        return identity.issue_token(uow.session, member, cmd.label, uow.now)
