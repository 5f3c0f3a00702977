"""Encrypted yes/no/abstain ballots cast through the real HTTP server, their proofs checked: throughput, latency
and cost per ballot, by electorate (the issue's target: ≥ 500 ballots/s on SQLite and PostgreSQL, and a cost per
ballot at 100,000 voters within 1.2 of that at 1,000).

The method is ``bench/ballots.py``'s, and so is most of the code (the server, the asyncio clients, the CPU
accounting from /proc, the quiet wait and the calibration): for each backend and electorate size N, a fresh
database with N residents holding an API token each, and encrypted votes of the residents keyed by their trustees
through the engine's ceremony commands (``bench.encrypted_votes``), every voter's credential registered (bulk
inserts of the rows registration writes). Every ballot is made before the load, cached in ``var/bench/`` (the
voter's device encrypts, not the server). Then ``yishi serve`` (2 workers × 16 threads) takes 1,000 warm-up
ballots in a vote of their own, and the measured ballots from 64 concurrent clients, one connection per ballot, in
votes one after another (an electorate of 1,000 votes five times for 5,000 ballots): each ``POST
/api/votes/{id}/encrypted-ballots`` is decoded, its proofs and signature checked (ahead of its transaction), and
stored with the voter's participation and the ``ballot_cast`` event. Every answer must be a 201.

It prints ballots/s, p50/p99, CPU per ballot (app, database, clients), the cost ratio largest/smallest electorate,
and what was stored (one encrypted ballot, one participation and one ``ballot_cast`` event per 201, each vote's
sequence in line with its events), with the machine's load and a calibration beside each row. wrk is not used: the
bodies are 2 KB ballots, one per voter, which ``bench/ballots.lua`` does not send; the asyncio clients cost
0.2–0.5 ms of CPU per ballot on the same two cores.

    python -m bench.encrypted_ballots                                            # the full run
    python -m bench.encrypted_ballots --sizes 1000 --ballots 500 --backends sqlite   # a quick one
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.ballots import (
    Row, Server, calibrate, client_cpu_seconds, cpu_seconds, databases, drive_python, machine_busy_seconds, merged,
    percentile, postmaster_of, tree_cpu_seconds, wait_for_quiet,
)
from bench.encrypted_votes import EncryptedVote, ballots_for, community, open_encrypted_vote, register_credentials
from engine.kernel.db import Database
from engine.kernel.models import Event, Instance
from engine.voting.models import EncryptedBallot, Participation

TARGET_RATE = 500.0
TARGET_COST_RATIO = 1.2


@dataclass(frozen=True)
class EncryptedRequest:
    """One voter's encrypted ballot, as the clients send it (``bench.ballots.drive_python`` takes it)."""

    vote_id: str
    token: str
    ballot: dict[str, Any]

    def http(self, port: int) -> bytes:
        body = json.dumps({"ballot": self.ballot}, separators=(",", ":")).encode()
        head = (f"POST /api/votes/{self.vote_id}/encrypted-ballots HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        return head.encode() + body


def requests_for(vote: EncryptedVote, tokens: list[str], voters: list[int]) -> list[EncryptedRequest]:
    made = ballots_for(vote.trustees.election, voters)
    return [EncryptedRequest(vote.vote_id, tokens[m["i"]], m["ballot"]) for m in made]


def stored(url: str, votes: list[EncryptedVote]) -> dict[str, Any]:
    """One encrypted ballot, one participation and one ``ballot_cast`` event per accepted ballot, in every vote."""
    db = Database(url)
    totals = {"ballots": 0, "participations": 0, "ballot_events": 0, "sequences_ok": True}
    try:
        with db.session() as session:
            for vote in votes:
                def count(model: Any) -> int:
                    return session.scalar(select(func.count()).select_from(model).where(model.vote_id == vote.vote_id)) or 0
                totals["ballots"] += count(EncryptedBallot)
                totals["participations"] += count(Participation)
                events = select(func.count()).select_from(Event).where(Event.instance_id == vote.instance_id)
                totals["ballot_events"] += session.scalar(events.where(Event.type == "ballot_cast")) or 0
                last = session.scalar(select(Instance.last_seq).where(Instance.id == vote.instance_id))
                totals["sequences_ok"] &= last == session.scalar(events) == session.scalar(
                    select(func.max(Event.seq)).where(Event.instance_id == vote.instance_id))
    finally:
        db.dispose()
    return totals


def prepare(url: str, size: int, rounds: int) -> tuple[Any, EncryptedVote, list[EncryptedVote], float]:
    started = time.perf_counter()
    place = community(url, size, with_tokens=True)
    warmup = open_encrypted_vote(place, f"http-{size}-warm-up", size)
    measured = [open_encrypted_vote(place, f"http-{size}-{r + 1}", size) for r in range(rounds)]
    for vote in (warmup, *measured):
        register_credentials(place, vote, size)
    if place.engine.db.engine.dialect.name == "postgresql":  # what autovacuum would have done long before
        with place.engine.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    place.engine.db.dispose()
    return place, warmup, measured, time.perf_counter() - started


def run_size(backend: str, url: str, size: int, args: argparse.Namespace, workdir: Path, db_port: int | None) -> Row:
    rounds = -(-args.ballots // size)
    place, warmup_vote, votes, setup = prepare(url, size, rounds)
    rng = random.Random(size)
    warm = requests_for(warmup_vote, place.tokens, rng.sample(range(size), min(args.warmup, size)))
    requests = [r for i, vote in enumerate(votes)
                for r in requests_for(vote, place.tokens, rng.sample(range(size), min(size, args.ballots - i * size)))]
    notes = [] if rounds == 1 else [f"{args.ballots:,} ballots in {rounds} votes of the same {size:,} voters, one after another"]
    with Server(url, args.workers, args.threads, workdir / f"server-{backend}-{size}.log") as server:
        warmed = drive_python(server.port, warm, args.clients)
        if args.quiet_wait > 0:
            idle = wait_for_quiet(args.quiet_wait)
            if idle >= 0.25:
                notes.append(f"the machine was not idle before the load ({idle:.2f} cores busy)")
        calibration, load_average = calibrate(), os.getloadavg()[0]
        postmaster = postmaster_of(db_port) if db_port else None
        workers_before = {pid: cpu_seconds([pid]) for pid in server.pids()[1:]}
        server_before, db_before = cpu_seconds(server.pids()), tree_cpu_seconds(postmaster)
        client_before, machine_before = client_cpu_seconds(), machine_busy_seconds()
        load = drive_python(server.port, requests[:args.first], args.clients)
        first_cost = cpu_seconds(server.pids()) - server_before + tree_cpu_seconds(postmaster) - db_before
        if args.first < len(requests):
            load = merged(load, drive_python(server.port, requests[args.first:], args.clients))
        client_cpu, machine_busy = client_cpu_seconds() - client_before, machine_busy_seconds() - machine_before
        server_cpu, db_cpu = cpu_seconds(server.pids()) - server_before, tree_cpu_seconds(postmaster) - db_before
        split = sorted((cpu_seconds([pid]) - before for pid, before in workers_before.items()), reverse=True)
        peak_sum, peak_max = server.peak_memory_kb()
    counts = stored(url, votes)
    stored_ok = counts["ballots"] == counts["participations"] == counts["ballot_events"] == load.created and counts["sequences_ok"]
    if not stored_ok:
        notes.append(f"stored: {counts}, accepted {load.created}")
    if warmed.errors:
        notes.append(f"warm-up errors: {warmed.statuses} {warmed.failures[:3]}")
    if load.errors:
        notes.append(f"errors: {load.statuses} {load.failures[:3]}")
    notes.append(f"load average {load_average:.1f} just before the load")
    n = max(load.created, 1)
    others = max(0.0, machine_busy - server_cpu - db_cpu - client_cpu)
    return Row(
        backend=backend, size=size, ballots=args.ballots, created=load.created, errors=load.errors,
        seconds=load.seconds, rate=load.created / load.seconds if load.seconds else 0.0,
        p50_ms=percentile(load.latencies, 0.50) * 1000, p99_ms=percentile(load.latencies, 0.99) * 1000,
        server_cpu_ms=server_cpu / n * 1000, db_cpu_ms=db_cpu / n * 1000 if postmaster else None,
        client_cpu_ms=client_cpu / n * 1000, peak_mb=peak_sum / 1024, peak_worker_mb=peak_max / 1024,
        setup_seconds=setup, stored_ok=stored_ok, notes=notes,
        other_cores=others / load.seconds if load.seconds else 0.0, calibration_ms=calibration,
        worker_cpu_share=[round(x / server_cpu, 2) if server_cpu else 0.0 for x in split],
        first_cost_ms=first_cost / min(args.first, len(requests)) * 1000, first_ballots=min(args.first, len(requests)),
    )


def report(rows: list[Row], args: argparse.Namespace) -> list[str]:
    lines = [f"server: yishi serve, {args.workers} workers x {args.threads} threads; {args.clients} asyncio clients; "
             "PostgreSQL durable (fsync, synchronous_commit on)", "",
             "| backend | electorate | ballots | errors | ballots/s | p50 ms | p99 ms | app CPU ms/ballot | db CPU ms/ballot "
             "| client CPU ms/ballot | others (cores) | stored | calibration ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        db = f"{r.db_cpu_ms:.2f}" if r.db_cpu_ms is not None else "—"
        lines.append(f"| {r.backend} | {r.size:,} | {r.created:,} | {r.errors} | {r.rate:,.0f} | {r.p50_ms:.1f} | "
                     f"{r.p99_ms:.1f} | {r.server_cpu_ms:.2f} | {db} | {r.client_cpu_ms:.2f} | {r.other_cores:.2f} | "
                     f"{'ok' if r.stored_ok else 'MISMATCH'} | {r.calibration_ms:.1f} |")
    lines.append("")
    for backend in dict.fromkeys(r.backend for r in rows):
        mine = [r for r in rows if r.backend == backend]
        slowest = min(r.rate for r in mine)
        lines.append(f"{backend}: lowest rate {slowest:,.0f} ballots/s (target >= {TARGET_RATE:,.0f}): "
                     f"{'met' if slowest >= TARGET_RATE else 'MISSED'}; errors {sum(r.errors for r in mine)}")
        small, large = min(mine, key=lambda r: r.size), max(mine, key=lambda r: r.size)
        if small is not large:
            cost = large.cost_ms / small.cost_ms
            lines.append(f"{backend}: server CPU per ballot {large.size:,} / {small.size:,} = {cost:.2f} "
                         f"({large.cost_ms:.2f} / {small.cost_ms:.2f} ms; target <= {TARGET_COST_RATIO}): "
                         f"{'met' if cost <= TARGET_COST_RATIO else 'MISSED'}; over the first {small.first_ballots:,} "
                         f"of each {large.first_cost_ms / small.first_cost_ms:.2f}")
        for r in mine:
            lines += [f"{backend} {r.size:,}: {note}" for note in r.notes]
    return lines


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.encrypted_ballots", description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--sizes", default="1000,100000")
    p.add_argument("--ballots", type=int, default=5000, help="measured ballots per size")
    p.add_argument("--first", type=int, default=1000, help="the ballots whose cost is also printed apart")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--quiet-wait", type=float, default=60.0)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="yishi-bench-"))
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        for backend in args.backends:
            with databases(backend, workdir, True, "1s") as (fresh, db_port):
                for size in args.sizes:
                    row = run_size(backend, fresh(size), size, args, workdir, db_port)
                    rows.append(row)
                    print(f"{backend:>10} {size:>7,}: {row.rate:6,.0f} ballots/s  p50 {row.p50_ms:6.1f} ms  p99 "
                          f"{row.p99_ms:6.1f} ms  app {row.server_cpu_ms:.2f} ms/ballot"
                          + (f"  db {row.db_cpu_ms:.2f} ms/ballot" if row.db_cpu_ms is not None else "")
                          + f"  clients {row.client_cpu_ms:.2f}  errors {row.errors}  workers {row.worker_cpu_share}"
                          + f"  others {row.other_cores:.2f} cores  calibration {row.calibration_ms:.1f} ms"
                          + f"  (setup {row.setup_seconds:.0f} s)  {row.notes[-1]}", flush=True)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n" + "\n".join(report(rows, args)))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 1 if any(r.errors or not r.stored_ok for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
