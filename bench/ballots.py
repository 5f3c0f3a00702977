"""Ballots through the real HTTP server: throughput, latency, cost per ballot and memory, by electorate.

For each backend (SQLite in a temporary file; PostgreSQL in a throwaway cluster) and each
electorate size N, the benchmark builds a fresh database: the schema, the bundled processes, a
community of N residents with an API token each (bulk inserts), and a secret yes/no vote of the
residents opened through the engine, so the electorate of N is frozen. Then it starts the real
server (``yishi serve``: gunicorn) as a subprocess and casts ballots through it from concurrent
clients (HTTP/1.1 over loopback, one connection per ballot with ``Connection: close``, as a voter's
phone sends its one ballot; wrk with ``bench/ballots.lua`` where installed, else asyncio clients in
this process), each ballot by a distinct voter with an ``Idempotency-Key``. It prints,
per backend and size:

- ballots per second over the measured ballots, and the client-observed p50 and p99 latency;
- the server's CPU seconds per ballot (gunicorn master and workers, from /proc; for PostgreSQL
  also the database's processes), and the ratio of that cost at the largest size to the smallest;
- the server's peak memory (VmHWM summed over the gunicorn master and workers) and its ratio;
- a check of what was stored: one participation, one ballot and one ``ballot_cast`` event per
  201, and the instance's sequence in line with its events;
- beside each row: the CPU other processes used meanwhile, how evenly the workers shared the
  load, and a calibration (a fixed workload's time) to tell a drift in the machine's speed from a
  cost that grows with the electorate.

It also times the tally of 100,000 random full rankings of 10 options, IRV and Schulze.

Performance targets are printed as ratios and verdicts from one run, never asserted: machines are
noisy. Only loopback traffic; every loop is bounded in count and in time.

    python -m bench.ballots                                                # the full run
    python -m bench.ballots --sizes 1000 --ballots 500 --backends sqlite   # a quick one
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from engine.kernel.commands import CompleteTask, StartInstance
from engine.identity import members as identity_members
from engine.identity import actors
from engine.kernel.db import Database
from engine.identity.models import ApiToken, Member
from engine.voting.models import Ballot, Participation, Vote
from engine.kernel.models import Event, HumanTask, Instance
from engine.bootstrap import Engine
from engine.kernel.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

TARGET_RATE = 1000.0        # ballots/s, on each backend
TARGET_COST_RATIO = 1.2     # per-ballot cost at the largest electorate / at the smallest
TARGET_MEMORY_RATIO = 1.2   # peak server memory at the largest electorate / at the smallest
TARGET_TALLY_SECONDS = 1.0  # 100,000 ranked ballots, 10 options

REQUEST_TIMEOUT = 30.0      # seconds for one request
LOAD_TIMEOUT = 240.0        # seconds for the whole load of one size
START_TIMEOUT = 60.0        # seconds for the server to answer /api/health

# The throwaway PostgreSQL cluster of the tests turns durability off (fsync=off,
# synchronous_commit=off); the benchmark measures a durable cluster unless told otherwise.
PG_DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
PG_UNSAFE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# A vote's tables start empty and grow by thousands of rows a minute. The server's connections
# keep the generic plans PostgreSQL made for them early on (psycopg prepares a statement after five
# executions): made for a near-empty table, the lookup of a participation by its primary key is a
# sequential scan, or a scan of the (vote, idempotency key) index by its vote prefix, and reads
# every participation of the vote. Autovacuum's ANALYZE (at every 10 % of growth) invalidates those
# plans; it looks every minute by default, every second here, so that a 20-second run sees the
# steady state of a deployment rather than the first minute of a fresh database (--autovacuum-naptime 1min).


# ---- the electorate --------------------------------------------------------------------------

@dataclass
class Electorate:
    url: str
    votes: list[tuple[str, str]]
    """The measured votes (vote id, instance id), cast in one after another."""
    warmup_vote_id: str
    """A second vote of the same electorate: the warm-up's ballots leave the measured vote untouched."""
    tokens: list[str]
    setup_seconds: float


def prepare(url: str, size: int, votes: int = 1) -> Electorate:
    """A fresh database with open secret yes/no votes whose frozen electorate is ``size`` residents:
    ``votes`` to measure, and one to warm the server up with."""
    started = time.perf_counter()
    db = Database(url)
    db.migrate()
    engine = Engine(db)  # the real clock, as in the server
    engine.deploy_bundled()
    with UnitOfWork(db, engine.clock) as uow:
        community = identity_members.create_community(uow.session, "bench", "Bench community", "Asia/Shanghai", uow.now)
        chair = identity_members.add_member(uow.session, community, "chair", ["committee"], uow.now)
        chair_actor, community_id = actors.actor_for(chair), community.id
        uow.commit()

    tokens = [actors.TOKEN_PREFIX + secrets.token_urlsafe(32) for _ in range(size)]
    now = engine.clock.now()
    members, api_tokens = Member.__table__, ApiToken.__table__
    with db.engine.begin() as conn:
        conn.execute(insert(members), [
            {"community_id": community_id, "name": f"voter {i:06d}", "roles": ["resident"], "household": None,
             "area": None, "created_at": now} for i in range(size)])
        ids = conn.scalars(select(members.c.id).where(members.c.community_id == community_id,
                                                      members.c.id != chair_actor.member_id).order_by(members.c.id)).all()
        conn.execute(insert(api_tokens), [
            {"member_id": member_id, "token_hash": actors.hash_token(token), "label": "bench", "created_at": now,
             "revoked_at": None} for member_id, token in zip(ids, tokens, strict=True)])

    warmup_vote_id, _ = _open_vote(engine, chair_actor, "Warm-up vote", size)
    measured = [_open_vote(engine, chair_actor, f"Bench vote {i + 1}", size) for i in range(votes)]
    if db.engine.dialect.name == "postgresql":
        # What autovacuum would have done long before a vote in a community of that size: without
        # it, the vacuum and analyze of the bulk-inserted tables ran into the first measured ballots.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()
    return Electorate(url, measured, warmup_vote_id, tokens, time.perf_counter() - started)


def _open_vote(engine: Engine, chair: actors.Actor, title: str, size: int) -> tuple[str, str]:
    """Open a secret yes/no vote of the residents through the engine: the vote's id and its instance's."""
    instance = engine.execute(StartInstance("vote"), chair)
    with engine.read() as session:
        task_id = session.scalar(select(HumanTask.id).where(
            HumanTask.instance_id == instance.id, HumanTask.element_id == "configure_vote", HumanTask.state == "READY"))
    deadline = (engine.clock.now() + timedelta(days=30)).isoformat()
    config = {"title": title, "question": "Repaint the courtyard fence?", "method": "yes_no_abstain",
              "rule": {}, "secret": True, "electorate": "residents", "deadline": deadline}
    engine.execute(CompleteTask(task_id, {"vote": config}), chair)
    with engine.read() as session:
        vote = session.scalar(select(Vote).where(Vote.instance_id == instance.id))
        assert vote is not None and vote.status == "open", "the vote did not open"
        assert vote.eligible_heads == size, f"electorate of {vote.eligible_heads}, expected {size}"
        return vote.id, instance.id


def stored(url: str, electorate: Electorate) -> dict[str, Any]:
    """What the database holds after the load: one participation, ballot and event per ballot, and
    each vote's sequence in line with its events."""
    totals = {"participations": 0, "ballots": 0, "ballot_events": 0, "sequences_ok": True}
    for vid, iid in electorate.votes:
        counts = _stored_in(url, vid, iid)
        for key in ("participations", "ballots", "ballot_events"):
            totals[key] += counts[key]
        totals["sequences_ok"] &= counts["max_seq"] == counts["last_seq"] == counts["events"]
    return totals


def _stored_in(url: str, vid: str, iid: str) -> dict[str, Any]:
    db = Database(url)
    try:
        with db.session() as session:
            counts = {
                "participations": session.scalar(select(func.count()).select_from(Participation).where(Participation.vote_id == vid)),
                "ballots": session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == vid)),
                "ballot_events": session.scalar(select(func.count()).select_from(Event).where(
                    Event.instance_id == iid, Event.type == "ballot_cast")),
                "events": session.scalar(select(func.count()).select_from(Event).where(Event.instance_id == iid)),
                "max_seq": session.scalar(select(func.max(Event.seq)).where(Event.instance_id == iid)),
                "last_seq": session.scalar(select(Instance.last_seq).where(Instance.id == iid)),
            }
    finally:
        db.dispose()
    return counts


# ---- processes: CPU and memory from /proc ----------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from 3 (state) on; comm may hold spaces


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU of the processes (exited ones count as 0)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


def tree_cpu_seconds(root: int | None) -> float:
    """CPU of a process and of its children, exited ones included: a parent that waited for a child
    has its CPU in cutime and cstime. PostgreSQL's backends come and go with the server's pool."""
    fields = _stat(root) if root else None
    if fields is None:
        return 0.0
    return cpu_seconds([root, *children(root)]) + (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def client_cpu_seconds() -> float:
    """CPU of the clients: this process (asyncio) and the wrk processes it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def wait_for_quiet(limit: float, threshold: float = 0.25, window: float = 2.5) -> float:
    """Wait (at most ``limit`` seconds) until the machine is idle but for us: other processes (tests,
    builds) on a 2-core machine would skew every figure. Returns the busy cores seen last.

    The window is longer than PostgreSQL's autovacuum naptime (1 s here), so that the vacuums and
    analyzes the warm-up's inserts call for have started, and ended, before the load."""
    deadline, busy = time.monotonic() + limit, 0.0
    while True:
        before, started = machine_busy_seconds(), time.monotonic()
        time.sleep(window)
        busy = (machine_busy_seconds() - before) / (time.monotonic() - started)
        if busy < threshold or time.monotonic() >= deadline:
            return busy


def calibrate() -> float:
    """Milliseconds of a fixed pure-Python workload: how fast this (virtual) machine runs just now.

    Shown beside each row so that a drift in the machine's speed between rows can be told apart
    from a cost that grows with the electorate."""
    import hashlib

    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        table: dict[str, int] = {}
        for i in range(20_000):
            table[hashlib.sha256(str(i).encode()).hexdigest()[:8]] = i
        best = min(best, time.process_time() - started)
    return best * 1000


def peak_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def postmaster_of(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` (our throwaway cluster), by its command line."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and str(port).encode() in argv:
            return int(entry)
    return None


# ---- the server ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``yishi serve`` as a subprocess: gunicorn's master and its workers."""

    def __init__(self, url: str, workers: int, threads: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.url, self.workers, self.threads, self.log = url, workers, threads, log
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        yishi = Path(sys.executable).with_name("yishi")
        argv = [str(yishi) if yishi.exists() else "yishi", "--database", self.url, "serve", "--no-demo",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                "--threads", str(self.threads), "--no-access-log"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log}")
            if len(children(self.process.pid)) >= self.workers and self._healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /api/health within {START_TIMEOUT:.0f} s; see {self.log}")

    def _healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/api/health")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid, *children(self.process.pid)]

    def peak_memory_kb(self) -> tuple[int, int]:
        """Sum and maximum of VmHWM over the master and the workers."""
        peaks = [peak_kb(pid) for pid in self.pids()]
        return sum(peaks), max(peaks)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # gunicorn stops its workers gracefully
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            for pid in children(self.process.pid):
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=10)


# ---- the clients -----------------------------------------------------------------------------

@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 201) + len(self.failures)


@dataclass(frozen=True)
class BallotRequest:
    """One voter's ballot, as both clients send it."""

    vote_id: str
    token: str
    key: str
    choice: str

    def http(self, port: int) -> bytes:
        body = json.dumps({"choice": self.choice}).encode()
        head = (f"POST /api/votes/{self.vote_id}/ballots HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {self.token}\r\nIdempotency-Key: {self.key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        return head.encode() + body


def ballot_requests(vote_id: str, tokens: list[str], rng: random.Random) -> list[BallotRequest]:
    """One ballot per voter, each with its Idempotency-Key."""
    return [BallotRequest(vote_id, token, str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                   rng.choice(("yes", "yes", "no", "abstain"))) for token in tokens]


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length is None:
        raise RuntimeError("a response without Content-Length")
    return status, await reader.readexactly(length), close


async def _client(port: int, requests: Iterator[bytes], load: Load, deadline: float) -> None:
    reader = writer = None
    try:
        for request in requests:
            if time.monotonic() > deadline:
                load.failures.append("load time limit reached")
                return
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            started = time.perf_counter()
            try:
                status, body, close = await asyncio.wait_for(_exchange(reader, writer, request), REQUEST_TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, RuntimeError) as exc:
                load.failures.append(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader = writer = None
                continue
            load.latencies.append(time.perf_counter() - started)
            load.statuses[status] = load.statuses.get(status, 0) + 1
            if status != 201 and len(load.failures) < 5:
                load.failures.append(f"HTTP {status}: {body[:200].decode(errors='replace')}")
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


def drive_python(port: int, ballots: list[BallotRequest], clients: int) -> Load:
    """Send every ballot once, from ``clients`` clients sharing one queue, each on a connection of its own."""
    load = Load()
    shared = iter([ballot.http(port) for ballot in ballots])  # one event loop: next() is never called concurrently

    async def run() -> None:
        deadline = time.monotonic() + LOAD_TIMEOUT
        await asyncio.gather(*(_client(port, shared, load, deadline) for _ in range(clients)))

    started = time.perf_counter()
    asyncio.run(run())
    load.seconds = time.perf_counter() - started
    # Non-201 answers are counted in statuses; keep only the first few messages.
    load.failures = load.failures[:10]
    return load


WRK_SCRIPT = Path(__file__).with_name("ballots.lua")
WRK_THREADS = 1
_WRK_PERCENTILE = re.compile(r"^\s*(\d+)\s+([\d.]+)$")


def drive_wrk(port: int, ballots: list[BallotRequest], clients: int, workdir: Path, sync_workers: bool) -> Load:
    """Send every ballot once with wrk (``bench/ballots.lua``): ``clients`` connections over its threads.

    wrk is a load generator in C: at a few tens of microseconds of CPU per request, it leaves the
    machine's two cores to the server and the database, where the asyncio clients took 0.3–0.4 ms.
    """
    threads = max(1, min(WRK_THREADS, len(ballots), clients))
    run = workdir / f"wrk-{uuid.uuid4().hex[:8]}"
    run.mkdir()
    (run / "ballots").write_text("".join(f"{b.vote_id} {b.token} {b.key} {b.choice}\n" for b in ballots))
    markers = [run / f"done{i}" for i in range(threads)]
    argv = ["wrk", f"-t{threads}", f"-c{max(clients, threads)}", f"-d{LOAD_TIMEOUT:.0f}s", f"--timeout={REQUEST_TIMEOUT:.0f}s",
            "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}", "--", str(run / "ballots"), str(threads), str(run / "done"),
            "linger" if sync_workers else "stop"]
    load = Load()
    started = time.perf_counter()
    wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "YISHI_WRK_PERCENTILES": str(run / "percentiles")})
    while not all(m.exists() for m in markers) and wrk.poll() is None:
        time.sleep(0.002)
    load.seconds = time.perf_counter() - started
    if wrk.poll() is None:
        wrk.send_signal(signal.SIGINT)  # prints its summary and runs the script's done()
    output, _ = wrk.communicate(timeout=30)
    if not all(m.exists() for m in markers):
        load.failures.append(f"wrk ended before every ballot was answered: {output[-500:]}")
    for marker in markers:
        for line in marker.read_text().split("\n") if marker.exists() else []:
            if line.strip():
                status, n = map(int, line.split())
                if status != 200:  # 200: the health checks that idle connections send at the end
                    load.statuses[status] = load.statuses.get(status, 0) + n
    errors = re.search(r"Socket errors: (.*)", output)
    if errors:
        load.failures.append(f"wrk socket errors: {errors.group(1)}")
    load.latencies = _wrk_latencies(run / "percentiles", sum(load.statuses.values()))
    return load


def _wrk_latencies(path: Path, answered: int) -> list[float]:
    """The latency distribution wrk's done() wrote (percentiles 1–100), as that many samples per percentile,
    so that two runs merge like the asyncio clients' raw samples."""
    if not path.exists() or answered == 0:
        return []
    samples = []
    for line in path.read_text().split("\n"):
        match = _WRK_PERCENTILE.match(line)
        if match:
            samples += [float(match.group(2)) / 1e6] * max(1, round(answered / 100))
    return samples


def drive(port: int, ballots: list[BallotRequest], args: argparse.Namespace, workdir: Path) -> Load:
    if args.client == "wrk":
        return drive_wrk(port, ballots, args.clients, workdir, sync_workers=args.threads == 1)
    return drive_python(port, ballots, args.clients)


# ---- one backend, one size -------------------------------------------------------------------

@dataclass
class Row:
    backend: str
    size: int
    ballots: int
    created: int
    errors: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float     # gunicorn master + workers, per ballot
    db_cpu_ms: float | None  # PostgreSQL processes, per ballot
    client_cpu_ms: float     # this process (the clients), per ballot
    peak_mb: float           # sum of VmHWM over the gunicorn processes
    peak_worker_mb: float
    setup_seconds: float
    stored_ok: bool
    notes: list[str] = field(default_factory=list)
    worker_cpu_share: list[float] = field(default_factory=list)  # how evenly the workers shared the load
    other_cores: float = 0.0  # CPU used by other processes on the machine during the load, in cores
    calibration_ms: float = 0.0  # a fixed workload's time just before the load (machine speed)
    first_cost_ms: float = 0.0  # server-side CPU (app + database) per ballot over the first ``first_ballots``
    first_ballots: int = 0

    @property
    def cost_ms(self) -> float:
        """CPU per ballot on the server side: the app, and the database when it runs apart."""
        return self.server_cpu_ms + (self.db_cpu_ms or 0.0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def warmup_of(size: int, args: argparse.Namespace) -> int:
    return min(args.warmup, size)


def comparable(args: argparse.Namespace) -> int:
    """How many ballots every size casts first, in its first vote; their cost is printed beside the
    whole run's. The verdict takes the whole run: every size casts the same number of ballots (a
    small electorate in several votes), and since ballots are cast together, the first 1,000 take
    under a second, too short a window on this machine."""
    return min(min(args.ballots, size) for size in args.sizes)


def merged(first: Load, rest: Load) -> Load:
    statuses = dict(first.statuses)
    for status, n in rest.statuses.items():
        statuses[status] = statuses.get(status, 0) + n
    return Load(first.latencies + rest.latencies, statuses, (first.failures + rest.failures)[:10], first.seconds + rest.seconds)


def run_size(backend: str, url: str, size: int, args: argparse.Namespace, workdir: Path, db_port: int | None) -> Row:
    electorate = prepare(url, size, votes=-(-args.ballots // size))  # an electorate smaller than the load votes again
    warmup = warmup_of(size, args)
    measured, first = args.ballots, comparable(args)
    rng = random.Random(size)
    warmers = rng.sample(electorate.tokens, warmup)
    requests = [request for i, (vote_id, _) in enumerate(electorate.votes)
                for request in ballot_requests(vote_id, rng.sample(electorate.tokens, min(size, measured - i * size)), rng)]
    rounds = len(electorate.votes)
    notes = [] if rounds == 1 else [f"{measured:,} ballots in {rounds} votes of the same {size:,} voters, one after another"]
    with Server(url, args.workers, args.threads, workdir / f"server-{backend}-{size}.log") as server:
        warm = drive(server.port, ballot_requests(electorate.warmup_vote_id, warmers, rng), args, workdir)
        if args.quiet_wait > 0:
            idle = wait_for_quiet(args.quiet_wait)
            if idle >= 0.25:
                notes.append(f"the machine was not idle before the load ({idle:.2f} cores busy)")
        calibration = calibrate()
        postmaster = postmaster_of(db_port) if db_port else None
        workers_before = {pid: cpu_seconds([pid]) for pid in server.pids()[1:]}
        server_before, db_before = cpu_seconds(server.pids()), tree_cpu_seconds(postmaster)
        client_before, machine_before = client_cpu_seconds(), machine_busy_seconds()
        load = drive(server.port, requests[:first], args, workdir)
        first_cost = cpu_seconds(server.pids()) - server_before + tree_cpu_seconds(postmaster) - db_before
        if first < len(requests):
            load = merged(load, drive(server.port, requests[first:], args, workdir))
        client_after, machine_busy = client_cpu_seconds(), machine_busy_seconds() - machine_before
        server_cpu, db_cpu = cpu_seconds(server.pids()) - server_before, tree_cpu_seconds(postmaster) - db_before
        split = sorted((cpu_seconds([pid]) - before for pid, before in workers_before.items()), reverse=True)
        peak_sum, peak_max = server.peak_memory_kb()
    counts = stored(url, electorate)
    accepted = load.created
    stored_ok = counts["participations"] == counts["ballots"] == counts["ballot_events"] == accepted and counts["sequences_ok"]
    if not stored_ok:
        notes.append(f"stored: {counts}, accepted {accepted}")
    if warm.errors:
        notes.append(f"warm-up errors: {warm.statuses} {warm.failures[:3]}")
    if load.errors:
        notes.append(f"errors: {load.statuses} {load.failures[:3]}")
    n = max(load.created, 1)
    client_cpu = client_after - client_before
    others = max(0.0, machine_busy - server_cpu - db_cpu - client_cpu)
    return Row(
        backend=backend, size=size, ballots=measured, created=load.created, errors=load.errors,
        seconds=load.seconds, rate=load.created / load.seconds if load.seconds else 0.0,
        p50_ms=percentile(load.latencies, 0.50) * 1000, p99_ms=percentile(load.latencies, 0.99) * 1000,
        server_cpu_ms=server_cpu / n * 1000, db_cpu_ms=db_cpu / n * 1000 if postmaster else None,
        client_cpu_ms=client_cpu / n * 1000, peak_mb=peak_sum / 1024, peak_worker_mb=peak_max / 1024,
        setup_seconds=electorate.setup_seconds, stored_ok=stored_ok, notes=notes,
        other_cores=others / load.seconds if load.seconds else 0.0, calibration_ms=calibration,
        worker_cpu_share=[round(x / server_cpu, 2) if server_cpu else 0.0 for x in split],
        first_cost_ms=first_cost / first * 1000, first_ballots=first,
    )


@contextmanager
def databases(backend: str, workdir: Path, durable: bool, naptime: str) -> Iterator[tuple[Any, int | None]]:
    """Yield a function size -> fresh database URL, and the database server's port (PostgreSQL)."""
    if backend == "sqlite":
        yield (lambda size: f"sqlite:///{workdir / f'bench-{size}.sqlite3'}"), None
        return
    sys.path.insert(0, str(ROOT))
    from tests import postgres_cluster

    settings = {**(PG_DURABLE if durable else PG_UNSAFE), "autovacuum_naptime": naptime}
    with postgres_cluster.cluster(settings=settings) as admin_url:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        base = admin_url.rsplit("/", 1)[0]

        def fresh(size: int) -> str:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS bench_{size} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE bench_{size}"))
            return f"{base}/bench_{size}"

        try:
            yield fresh, int(admin_url.rsplit(":", 1)[1].split("/")[0])
        finally:
            admin.dispose()


# ---- the tally -------------------------------------------------------------------------------

def time_tally(ballots: int, options: int, repeats: int) -> dict[str, dict[str, float]]:
    import numpy as np

    from engine.voting.counting.tally import tally

    ids = [f"option-{i}" for i in range(options)]
    rng = np.random.default_rng(20240601)
    rankings = rng.permuted(np.tile(np.arange(options), (ballots, 1)), axis=1)
    cast = [{"choice": [ids[i] for i in row]} for row in rankings.tolist()]
    electorate = {"heads": ballots, "heads_label": "residents"}
    timings = {}
    for method in ("irv", "schulze"):
        config = {"method": method, "options": ids, "seed": "bench", "rule": {}}
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = tally(cast, config, electorate)
            seconds.append(time.perf_counter() - started)
        timings[method] = {"best": min(seconds), "median": statistics.median(seconds), "outcome": result["outcome"],
                           "winner": result["winner"]}
    return timings


# ---- report ----------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(rows: list[Row], tallies: dict[str, dict[str, Any]] | None, args: argparse.Namespace) -> list[str]:
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"server: yishi serve, gunicorn {args.workers} {'sync workers' if args.threads == 1 else f'workers x {args.threads} threads'}; "
        f"{args.clients} concurrent clients ({args.client}); "
        f"PostgreSQL {'durable (fsync, synchronous_commit on)' if args.durable else 'fsync=off, synchronous_commit=off'}, "
        f"autovacuum_naptime {args.autovacuum_naptime}",
        "",
        "| backend | electorate | ballots | errors | ballots/s | p50 ms | p99 ms | app CPU ms/ballot | db CPU ms/ballot "
        "| client CPU ms/ballot | peak MB (sum / worker) | stored | calibration ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        db = f"{r.db_cpu_ms:.2f}" if r.db_cpu_ms is not None else "—"
        lines.append(f"| {r.backend} | {r.size:,} | {r.created:,} | {r.errors} | {r.rate:,.0f} | {r.p50_ms:.1f} | "
                     f"{r.p99_ms:.1f} | {r.server_cpu_ms:.2f} | {db} | {r.client_cpu_ms:.2f} | "
                     f"{r.peak_mb:.0f} / {r.peak_worker_mb:.0f} | {'ok' if r.stored_ok else 'MISMATCH'} | {r.calibration_ms:.1f} |")
    lines.append("")
    for backend in dict.fromkeys(r.backend for r in rows):
        mine = [r for r in rows if r.backend == backend]
        slowest = min(r.rate for r in mine)
        lines.append(f"{backend}: lowest rate {slowest:,.0f} ballots/s (target >= {TARGET_RATE:,.0f}): {verdict(slowest >= TARGET_RATE)}; "
                     f"errors {sum(r.errors for r in mine)}")
        small, large = min(mine, key=lambda r: r.size), max(mine, key=lambda r: r.size)
        if small is not large:
            cost = large.cost_ms / small.cost_ms
            client = (large.seconds / max(large.created, 1)) / (small.seconds / max(small.created, 1))
            memory = large.peak_mb / small.peak_mb
            lines.append(f"{backend}: server CPU per ballot {large.size:,} / {small.size:,} = {cost:.2f} "
                         f"({large.cost_ms:.2f} / {small.cost_ms:.2f} ms over all ballots; target <= {TARGET_COST_RATIO}): "
                         f"{verdict(cost <= TARGET_COST_RATIO)}; over the first {small.first_ballots:,} ballots of each "
                         f"{large.first_cost_ms / small.first_cost_ms:.2f}; wall time per ballot {client:.2f}")
            lines.append(f"{backend}: peak server memory {large.size:,} / {small.size:,} = {memory:.2f} "
                         f"(within {TARGET_MEMORY_RATIO - 1:.0%}): {verdict(abs(memory - 1) <= TARGET_MEMORY_RATIO - 1)}")
        for r in mine:
            for note in r.notes:
                lines.append(f"{backend} {r.size:,}: {note}")
    if tallies:
        lines.append("")
        lines.append(f"tally of {args.tally_ballots:,} random full rankings of {args.tally_options} options "
                     f"({args.tally_repeats} runs):")
        for method, t in tallies.items():
            lines.append(f"  {method:<8} best {t['best']:.3f} s, median {t['median']:.3f} s "
                         f"(target < {TARGET_TALLY_SECONDS:.0f} s): {verdict(t['median'] < TARGET_TALLY_SECONDS)}")
    return lines


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.ballots", description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    p.add_argument("--sizes", default="1000,10000,100000", help="electorate sizes, comma-separated")
    p.add_argument("--ballots", type=int, default=5000,
                   help="measured ballots per size (a smaller electorate votes several times, one vote after another)")
    p.add_argument("--warmup", type=int, default=1000,
                   help="ballots cast in another vote of the same electorate before measuring (at most the electorate)")
    p.add_argument("--clients", type=int, default=64,
                   help="voters casting at the same moment (at 1,000 ballots/s and 50 ms each, 50 are under way at any time)")
    p.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                   help="load generator: wrk (C, bench/ballots.lua; the default where installed) or asyncio clients in this process")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=16,
                   help="threads per gunicorn worker: ballots its threads cast at once share a transaction (1: sync workers)")
    p.add_argument("--durable", action=argparse.BooleanOptionalAction, default=True,
                   help="PostgreSQL with fsync and synchronous_commit on (--no-durable: the tests' unsafe settings)")
    p.add_argument("--autovacuum-naptime", default="1s",
                   help="PostgreSQL: how often autovacuum looks for tables to analyze (the server's default is 1min; see README)")
    p.add_argument("--tally", action=argparse.BooleanOptionalAction, default=True, help="time the tally of ranked ballots")
    p.add_argument("--tally-ballots", type=int, default=100_000)
    p.add_argument("--tally-options", type=int, default=10)
    p.add_argument("--tally-repeats", type=int, default=5)
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="before each load, wait up to this many seconds for other processes to leave the CPU idle")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the working directory (databases, server logs)")
    args = p.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        p.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if min(args.sizes) < 10 or args.ballots < 1 or args.clients < 1:
        p.error("sizes of at least 10, at least one ballot and one client")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="yishi-bench-"))
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        for backend in args.backends:
            with databases(backend, workdir, args.durable, args.autovacuum_naptime) as (fresh, db_port):
                for size in args.sizes:
                    row = run_size(backend, fresh(size), size, args, workdir, db_port)
                    rows.append(row)
                    print(f"{backend:>10} {size:>7,}: {row.rate:7,.0f} ballots/s  p50 {row.p50_ms:6.1f} ms  "
                          f"p99 {row.p99_ms:6.1f} ms  app {row.server_cpu_ms:.2f} ms/ballot"
                          + (f"  db {row.db_cpu_ms:.2f} ms/ballot" if row.db_cpu_ms is not None else "")
                          + f"  peak {row.peak_mb:.0f} MB  errors {row.errors}  workers {row.worker_cpu_share}"
                          + f"  others {row.other_cores:.2f} cores  calibration {row.calibration_ms:.1f} ms"
                          + f"  (setup {row.setup_seconds:.1f} s)",
                          flush=True)
        tallies = time_tally(args.tally_ballots, args.tally_options, args.tally_repeats) if args.tally else None
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    lines = report(rows, tallies, args)
    print()
    print("\n".join(lines))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "tally": tallies,
                                         "args": {k: v for k, v in vars(args).items() if k != "json"}},
                                        indent=2, default=str))
    return 1 if any(r.errors or not r.stored_ok for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
