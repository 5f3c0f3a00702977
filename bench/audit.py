"""Verifying a community's history: export and full verification of 1,000 to 100,000 events.

The benchmark builds one community's history through the real engine (``Engine.execute`` in this
process, SQLite in a temporary file, a ManualClock, a signing key), so every hash chain, record
binding, state digest, bulletin board and signed checkpoint is genuine. The history grows by
*units* of the same mix, so that the cost per event is comparable between sizes: one consultation
(a topic, opinions submitted by residents, closed early, a deliberation, every opinion answered,
an outcome) and one secret yes/no vote of the residents (configured, one ballot per voter of most
of the electorate, closed by its deadline timer). Ballots dominate, as in a real community.

The history is built once, up to the largest size; a copy of the database is taken as it passes
each smaller size (the units are independent, so the history of 10,000 events is the first tenth
of the one of 100,000). Then, for each copy, it times:

- ``engine.audit.bundles.export`` of the community's full bundle (salts and personal data);
- ``engine.audit.offline.verify.verify`` of that bundle with replay, split by check (definitions, chain,
  replay, records, recount, checkpoints): events verified per second and the total;
- the export of the public bundle and its verification (no replay: it withholds the inputs).

It prints the cost per verified event at the largest size over the smallest (target ≤ 1.2) and
the events per second verified at the largest (target ≥ 5,000), as verdicts from one run, with a
calibration beside each row (a fixed workload's time) to tell the machine's drift from a cost that
grows with the history. Nothing is asserted: machines are noisy.

    python -m bench.audit                            # 1,000, 10,000 and 100,000 events, a few minutes
    python -m bench.audit --quick                    # a sanity check, a few seconds
    python -m bench.audit --sizes 1000 10000 --profile   # and where the largest verification spends its time
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, insert, select

from bench.ballots import calibrate
from engine.consultation.commands import AnswerOpinion, SubmitOpinion
from engine.kernel.commands import CompleteTask, StartInstance
from engine.voting.commands import CastBallot
from engine.identity import members as identity_members
from engine.identity import actors
from engine.audit import bundles as audit_bundle
from engine.audit.offline import verify as audit_verify
from engine.kernel.clock import ManualClock
from engine.kernel.db import Database
from engine.identity.actors import Actor
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Event, HumanTask, Instance
from engine.identity.models import Member
from engine.voting.models import Vote
from engine.bootstrap import Engine, EngineConfig
from engine.kernel.unit_of_work import UnitOfWork

TARGET_RATE = 5000.0       # events/s verified (full bundle, with replay) at the largest size
TARGET_COST_RATIO = 1.2    # cost per verified event at the largest size / at the smallest
ZONE = "Asia/Shanghai"
START = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
CHECKS = ("definitions_unchanged", "chain", "replayed", "records", "recounts", "checkpoints")


@dataclass(frozen=True)
class Mix:
    """What one unit of history holds; the same at every size."""

    voters: int
    ballots: int
    opinions: int


FULL_MIX = Mix(voters=1000, ballots=900, opinions=40)   # about 990 events a unit
QUICK_MIX = Mix(voters=100, ballots=80, opinions=8)     # about 110 events a unit


# ---- building the history through the engine ------------------------------------------------

class Builder:
    """One community, its members created in bulk (they are not events); every event comes from a command."""

    def __init__(self, path: Path, mix: Mix, key: Path) -> None:
        self.mix, self.clock, self.rng = mix, ManualClock(START), random.Random(7)
        self.db = Database(f"sqlite:///{path}")
        event.listen(self.db.engine, "connect", _no_fsync)
        self.db.migrate()
        self.engine = Engine(self.db, self.clock, EngineConfig(audit_key=key))
        self.engine.deploy_bundled()
        self.community_id, self.chair, self.clerk = self._community()
        self.voters = self._residents(mix.voters)
        self.units = 0

    def _community(self) -> tuple[int, Actor, Actor]:
        with UnitOfWork(self.db, self.clock) as uow:
            row = identity_members.create_community(uow.session, "bench", "Bench community", ZONE, uow.now)
            chair = identity_members.add_member(uow.session, row, "chair", ["committee"], uow.now)
            clerk = identity_members.add_member(uow.session, row, "clerk", ["committee"], uow.now)
            out = row.id, actors.actor_for(chair), actors.actor_for(clerk)
            uow.commit()
        return out

    def _residents(self, n: int) -> list[Actor]:
        """Bulk inserts, as bench/ballots.py does: the register is not part of the history measured."""
        with self.db.engine.begin() as conn:
            conn.execute(insert(Member.__table__), [
                {"community_id": self.community_id, "name": f"resident {i:05d}", "roles": ["resident"], "household": None,
                 "area": None, "created_at": self.clock.now()} for i in range(n)])
            ids = conn.scalars(select(Member.id).where(Member.community_id == self.community_id, Member.name.like("resident %"))
                               .order_by(Member.id)).all()
        return [Actor(i, self.community_id, f"resident {i}", frozenset({"resident"})) for i in ids]

    def events(self) -> int:
        with self.engine.read() as session:
            return session.scalar(select(func.count()).select_from(Event)) or 0

    def unit(self) -> None:
        self.consultation()
        self.vote()
        self.units += 1

    def run(self, command: Any, actor: Actor | None, seconds: int = 60) -> Any:
        self.clock.advance(timedelta(seconds=seconds))
        return self.engine.execute(command, actor)

    def task(self, instance_id: str, element: str) -> str:
        with self.engine.read() as session:
            return session.scalars(select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, HumanTask.element_id == element, HumanTask.state == "READY")).one()

    def local(self, delta: timedelta) -> str:
        """A moment ahead of the clock, as a naive local time (what the forms ask for)."""
        return (self.clock.now() + delta).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")

    def consultation(self) -> None:
        chair, n = self.chair, self.units
        iid = self.run(StartInstance("consultation"), chair).id
        self.run(CompleteTask(self.task(iid, "draft_topic"), {
            "title": f"Topic {n}", "description": "Where should the bike shed go?", "affected": "Buildings 2-4",
            "opinion_deadline": self.local(timedelta(days=14))}), chair)
        authors = self.rng.sample(self.voters, self.mix.opinions)
        opinions = [self.run(SubmitOpinion(iid, f"Opinion {i} on topic {n}: by the gate."), a, 300) for i, a in enumerate(authors)]
        self.run(CompleteTask(self.task(iid, "opinion_period"), {"reason": "Enough heard."}), chair)
        self.run(CompleteTask(self.task(iid, "record_deliberation"), {
            "meeting_date": self.local(timedelta(days=1))[:10], "attendees": ["chair", "clerk"], "minutes": "Discussed."}), self.clerk)
        for i, opinion in enumerate(opinions):
            verdict = ("adopted", "partly_adopted", "not_adopted")[i % 3]
            self.run(AnswerOpinion(opinion.id, verdict, "Considered by the committee."), chair)
        self.run(CompleteTask(self.task(iid, "answer_opinions"), {"note": "All answered."}), chair)
        self.run(CompleteTask(self.task(iid, "publish_outcome"), {"summary": "A shed by the gate."}), chair)

    def vote(self) -> None:
        iid = self.run(StartInstance("vote"), self.chair).id
        deadline = self.clock.now() + timedelta(days=7)
        config = {"title": f"Vote {self.units}", "question": "Repaint the courtyard fence?", "method": "yes_no_abstain",
                  "rule": {}, "secret": True, "electorate": "residents", "deadline": deadline.isoformat()}
        self.run(CompleteTask(self.task(iid, "configure_vote"), {"vote": config}), self.chair)
        with self.engine.read() as session:
            vote_id = session.scalars(select(Vote.id).where(Vote.instance_id == iid)).one()
        for voter in self.rng.sample(self.voters, self.mix.ballots):
            self.run(CastBallot(vote_id, self.rng.choice(("yes", "yes", "no", "abstain"))), voter, 7)
        self.clock.advance(deadline - self.clock.now() + timedelta(seconds=1))
        assert self.engine.fire_due_timers() == 1, "the vote did not close at its deadline"

    def snapshot(self, path: Path) -> None:
        """A consistent copy of the database (WAL included) through SQLite's backup API."""
        source = sqlite3.connect(self.db.url.removeprefix("sqlite:///"))
        target = sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    """The build only: a lost build is rebuilt; the copies measured are opened with the engine's own pragmas."""
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@dataclass(frozen=True)
class Scope:
    """What an export needs besides the database: whose history, as of when, and the deployment's key."""

    community_id: int
    now: datetime
    public_keys: dict[str, str]


@dataclass
class Built:
    size: int
    path: Path
    events: int
    units: int
    instances: int
    checkpoints: int


def build(workdir: Path, sizes: list[int], mix: Mix) -> tuple[list[Built], Scope, float]:
    """Grow one history unit by unit, copying the database as it reaches each size (to the nearest unit)."""
    started = time.perf_counter()
    builder = Builder(workdir / "history.sqlite", mix, workdir / "audit-key.pem")
    built, events, unit = [], 0, 0
    for size in sorted(sizes):
        while events + unit // 2 < size:  # the number of whole units nearest the size
            builder.unit()
            unit = builder.events() - events
            events += unit
        copy = workdir / f"history-{size}.sqlite"
        builder.snapshot(copy)
        with builder.engine.read() as session:
            instances = session.scalar(select(func.count()).select_from(Instance)) or 0
            signed = session.scalar(select(func.count()).select_from(Checkpoint)) or 0
        built.append(Built(size, copy, events, builder.units, instances, signed))
        print(f"  built {events:,} events ({builder.units} units) in {time.perf_counter() - started:.0f} s", flush=True)
    signer = builder.engine.signer
    assert signer is not None
    scope = Scope(builder.community_id, builder.clock.now(), {signer.key_id: signer.public_pem})
    builder.db.dispose()
    return built, scope, time.perf_counter() - started


# ---- measuring -------------------------------------------------------------------------------

@dataclass
class Row:
    size: int
    events: int
    instances: int
    checkpoints: int
    calibration_ms: float
    export_s: float = 0.0
    verify_s: float = 0.0
    public_export_s: float = 0.0
    public_verify_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    export_phases: dict[str, float] = field(default_factory=dict)
    verify_phases: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.verify_s

    @property
    def us_per_event(self) -> float:
        return self.verify_s / self.events * 1e6


@contextmanager
def timed(owner: Any, names: tuple[str, ...], into: dict[str, float]) -> Iterator[None]:
    """Add up the seconds spent in each of ``owner``'s functions: a split by phase without a profiler's overhead."""
    originals = {name: owner[name] if isinstance(owner, dict) else getattr(owner, name) for name in names}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                into[name] += time.perf_counter() - started
        return wrapper

    registry = owner if isinstance(owner, dict) else None  # a registry of functions (the bundle's sections)
    for name, function in originals.items():
        if registry is not None:
            registry[name] = wrap(name, function)
        else:
            setattr(owner, name, wrap(name, function))
    try:
        yield
    finally:
        for name, function in originals.items():
            if registry is not None:
                registry[name] = function
            else:
                setattr(owner, name, function)


EXPORT_PARTS = ("_definitions", "_events", "_instance", "_records", "_checkpoints")
"""The export's own phases; the sections the domains register (voting's boards and ballot boxes) are timed too."""


def best(repeats: int, run: Callable[[dict[str, float]], Any]) -> tuple[float, dict[str, float], Any]:
    """The fastest of ``repeats`` runs, with its split by phase and its result."""
    found: tuple[float, dict[str, float], Any] | None = None
    for _ in range(repeats):
        phases: dict[str, float] = defaultdict(float)
        started = time.perf_counter()
        result = run(phases)
        seconds = time.perf_counter() - started
        if found is None or seconds < found[0]:
            found = (seconds, dict(phases), result)
    assert found is not None
    return found


def export(db: Database, scope: Scope, public: bool) -> dict[str, Any]:
    with db.session() as session:
        return audit_bundle.export(session, scope.community_id, public=public, now=scope.now, public_keys=scope.public_keys)


def export_split(db: Database, scope: Scope, phases: dict[str, float]) -> dict[str, Any]:
    with timed(audit_bundle, EXPORT_PARTS, phases), timed(audit_bundle.SECTIONS, tuple(audit_bundle.SECTIONS), phases):
        return export(db, scope, public=False)


def verify_split(bundle: dict[str, Any], scope: Scope, phases: dict[str, float]) -> audit_verify.Verdict:
    with timed(audit_verify.Check, CHECKS, phases):
        return audit_verify.verify(bundle, trusted_keys=scope.public_keys)


def measure(built: Built, scope: Scope) -> Row:
    """Export and verify the full bundle, then the public one; small histories take the best of a few runs."""
    repeats = max(1, min(5, 20_000 // built.events))
    row = Row(built.size, built.events, built.instances, built.checkpoints, calibrate())
    db = Database(f"sqlite:///{built.path}")
    try:
        row.export_s, row.export_phases, full = best(repeats, lambda phases: export_split(db, scope, phases))
        row.verify_s, row.verify_phases, verdict = best(repeats, lambda phases: verify_split(full, scope, phases))
        row.problems += [p.message for p in verdict.problems]
        if verdict.counts.get("replayed events") != built.events:
            row.problems.append(f"replayed {verdict.counts.get('replayed events')} of {built.events} events")
        row.public_export_s, _, public = best(repeats, lambda _: export(db, scope, public=True))
        row.public_verify_s, _, verdict = best(repeats, lambda _: audit_verify.verify(public, trusted_keys=scope.public_keys))
        row.problems += [f"public: {p.message}" for p in verdict.problems]
    finally:
        db.dispose()
    gc.collect()
    return row


def profile(built: Built, scope: Scope, top: int) -> str:
    """Where export and verification of one history spend their time (cProfile, by own time)."""
    db = Database(f"sqlite:///{built.path}")
    out = io.StringIO()
    try:
        profiler = cProfile.Profile()
        full = profiler.runcall(export, db, scope, False)
        _top(profiler, f"export of {built.events:,} events", top, out)
        profiler = cProfile.Profile()
        profiler.runcall(audit_verify.verify, full, trusted_keys=scope.public_keys)
        _top(profiler, f"verify of {built.events:,} events", top, out)
    finally:
        db.dispose()
    return out.getvalue()


def _top(profiler: cProfile.Profile, title: str, top: int, out: io.StringIO) -> None:
    out.write(f"\n== cProfile: {title}, top {top} by own time ==\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)


# ---- report ----------------------------------------------------------------------------------

def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def phases(row: Row) -> str:
    names = {"definitions_unchanged": "definitions", "replayed": "replay", "recounts": "recount"}
    return "  ".join(f"{names.get(k, k)} {v:.2f}" for k, v in row.verify_phases.items())


def report(rows: list[Row], build_seconds: float, mix: Mix) -> list[str]:
    lines = [f"Unit: one consultation ({mix.opinions} opinions, each answered) + one secret vote "
             f"({mix.ballots} ballots of {mix.voters} residents); build {build_seconds:.0f} s in all", "",
             "| events | instances | checkpoints | export s | verify s | events/s verified | µs/event | public export s | public verify s | calibration ms | ok |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.events:,} | {r.instances} | {r.checkpoints} | {r.export_s:.2f} | {r.verify_s:.2f} | {r.rate:,.0f} | "
                     f"{r.us_per_event:.0f} | {r.public_export_s:.2f} | {r.public_verify_s:.2f} | {r.calibration_ms:.1f} | "
                     f"{'ok' if not r.problems else r.problems[0]} |")
    lines.append("")
    for r in rows:
        split = "  ".join(f"{k.lstrip('_')} {v:.2f}" for k, v in r.export_phases.items())
        lines.append(f"{r.events:>9,} events  verify s: {phases(r)}   export s: {split}")
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        ratio = large.us_per_event / small.us_per_event
        calibrated = ratio * small.calibration_ms / large.calibration_ms
        export_ratio = (large.export_s / large.events) / (small.export_s / small.events)
        lines += ["",
                  f"cost per verified event {large.events:,} / {small.events:,}: {ratio:.2f} "
                  f"(calibrated {calibrated:.2f}); target ≤ {TARGET_COST_RATIO}: {verdict(ratio <= TARGET_COST_RATIO)}",
                  f"cost per exported event {large.events:,} / {small.events:,}: {export_ratio:.2f} (no target)"]
    lines.append(f"events/s verified at {rows[-1].events:,}: {rows[-1].rate:,.0f}; target ≥ {TARGET_RATE:,.0f}: "
                 f"{verdict(rows[-1].rate >= TARGET_RATE)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000], help="events in each history")
    parser.add_argument("--quick", action="store_true", help="a sanity check: sizes 300 and 1,000, units of about 110 events")
    parser.add_argument("--profile", action="store_true", help="cProfile the export and verification of the largest size")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--keep", action="store_true", help="keep the databases built (their directory is printed)")
    args = parser.parse_args(argv)
    sizes, mix = ([300, 1000], QUICK_MIX) if args.quick else (sorted(args.sizes), FULL_MIX)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="yishi-bench-audit-"))
    try:
        print(f"building {', '.join(f'{s:,}' for s in sizes)} events in {workdir}", flush=True)
        built, scope, build_seconds = build(workdir, sizes, mix)
        rows = []
        for history in built:
            rows.append(measure(history, scope))
            print(f"  measured {history.events:,} events: verify {rows[-1].verify_s:.2f} s", flush=True)
        profiled = profile(built[-1], scope, args.top) if args.profile else ""
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(profiled)
    print("\n".join(report(rows, build_seconds, mix)))
    if args.quick:
        print("(quick: a sanity check of build, export and verification; its small units hold ten times more "
              "workflow steps per event, whose replay dominates, so its verdicts say nothing of the targets)")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 1 if any(r.problems for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
