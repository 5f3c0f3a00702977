"""The scale-out deployment, for real: two `yishi serve` (gunicorn, 2 workers each) and two `yishi worker`
on one PostgreSQL database, one audit key file for all of them.

Votes and consultations whose deadlines fall a few seconds ahead on the real clock are started,
configured and filled through both servers at once; the workers close them. Then: every timer fired
exactly once (one ``timers_fired`` event per instance, whichever worker fired it), no answer was a
5xx, every acknowledged ballot is on the board as cast, the checkpoints form one chain, and
``yishi verify`` holds. Every process is stopped with SIGTERM and none is left behind.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bench.ballots import ROOT, Server, free_port
from engine.identity import models as identity_models
from engine.identity import members
from engine.audit.sealing import checkpoints
from engine.kernel.db import Database
from engine.voting.models import Ballot, Vote
from engine.audit.sealing.models import Checkpoint
from engine.kernel.models import Event, Instance, Timer
from engine.consultation.models import Opinion
from engine.bootstrap import Engine, EngineConfig
from engine.kernel.unit_of_work import UnitOfWork
from tests.helpers import make_community, send

VOTES = 3
CONSULTATIONS = 3
EXTRA_RESIDENTS = 12
LEAD = 12.0
"""Seconds from configuring the votes and consultations to their deadlines: enough to cast every ballot."""
YISHI = str(Path(sys.executable).with_name("yishi"))





class Clients:
    """Requests spread over the servers, every answer kept (to find any 5xx)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.answers: list[tuple[int, str, str, int]] = []
        self._next = 0

    def send(self, token: str, method: str, path: str, body: Any = None, key: str | None = None, via: int | None = None) -> tuple[int, Any]:
        if via is None:
            via, self._next = self._next % len(self.ports), self._next + 1
        status, answer = send(self.ports[via], token, method, path, body, key)
        self.answers.append((via, method, path, status))
        return status, answer

    def ok(self, expected: int, *args: Any, **kwargs: Any) -> Any:
        status, answer = self.send(*args, **kwargs)
        assert status == expected, (args, status, answer)
        return answer


def worker(url: str, log: Path, metrics_port: int) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([YISHI, "--database", url, "worker", "--interval", "0.3", "--checkpoint-every", "1",
                                 "--metrics-port", str(metrics_port)], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        assert response.status == 200
        exposition = response.read().decode()
    finally:
        conn.close()
    return {(s.name, frozenset(s.labels.items())): s.value for family in text_string_to_metric_families(exposition) for s in family.samples}


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(value for (sample, have), value in samples.items() if sample == name and set(labels.items()) <= have)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_servers_and_two_workers_on_one_postgresql(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    began = time.monotonic()
    key = tmp_path / "audit-key.pem"
    monkeypatch.setenv("YISHI_AUDIT_KEY", str(key))
    engine = Engine(Database(database_url), config=EngineConfig(audit_key=key))
    engine.deploy_bundled()
    community = make_community(engine, "harmony")
    residents = {name: community.tokens[name] for name in ("chair", "alice", "bob", "carol")}
    with UnitOfWork(engine.db, engine.clock) as uow:
        row = uow.session.get(identity_models.Community, community.id)
        for n in range(EXTRA_RESIDENTS):
            member = members.add_member(uow.session, row, f"neighbour{n}", ["resident"], uow.now)
            residents[member.name] = members.issue_token(uow.session, member, "test", uow.now)
        uow.commit()
    chair = community.tokens["chair"]
    engine.db.dispose()

    worker_ports = [free_port() for _ in range(2)]
    workers = [worker(database_url, tmp_path / f"worker{n}.log", worker_ports[n]) for n in range(2)]
    servers = [Server(database_url, workers=2, threads=8, log=tmp_path / f"server{n}.log",
                      env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics{n}")}) for n in range(2)]
    pids: list[int] = [w.pid for w in workers]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.__enter__(), servers))
        pids += [pid for s in servers for pid in s.pids()]
        clients = Clients([s.port for s in servers])
        started = time.monotonic() - began

        # Start and configure every vote and consultation, the two servers taking turns.
        deadline = (datetime.now(timezone.utc) + timedelta(seconds=LEAD)).replace(microsecond=0)

        def open_vote(n: int) -> tuple[str, str]:
            instance = clients.ok(201, chair, "POST", "/api/instances", {"definition_key": "vote"}, via=n % 2)
            (task,) = clients.ok(200, chair, "GET", f"/api/tasks?instance_id={instance['id']}", via=(n + 1) % 2)["items"]
            clients.ok(200, chair, "POST", f"/api/tasks/{task['id']}/complete", {"data": {"vote": {
                "title": f"Question {n}", "question": "Shall the bicycle shed be rebuilt?", "method": "yes_no_abstain",
                "rule": {}, "secret": n % 2 == 0, "electorate": "residents", "deadline": deadline.isoformat()}}}, via=n % 2)
            (vote,) = clients.ok(200, chair, "GET", f"/api/instances/{instance['id']}/votes", via=(n + 1) % 2)
            return instance["id"], vote["id"]

        def open_consultation(n: int) -> str:
            instance = clients.ok(201, chair, "POST", "/api/instances", {"definition_key": "consultation"}, via=n % 2)
            (task,) = clients.ok(200, chair, "GET", f"/api/tasks?instance_id={instance['id']}", via=(n + 1) % 2)["items"]
            clients.ok(200, chair, "POST", f"/api/tasks/{task['id']}/complete", {"data": {
                "title": f"Topic {n}", "description": "Where should the chargers go?", "affected": "Buildings 1-6",
                "opinion_deadline": deadline.isoformat()}}, via=n % 2)
            return instance["id"]

        with ThreadPoolExecutor(VOTES + CONSULTATIONS) as pool:
            opened_votes = list(pool.map(open_vote, range(VOTES)))
            consultations = list(pool.map(open_consultation, range(CONSULTATIONS)))
        configured = time.monotonic() - began

        # Every resident votes in every vote and gives an opinion in every consultation, through both servers at once.
        choices = ["yes", "no", "abstain"]
        ballots = [(vote_id, name, choices[(i + v) % 3], i % 2)
                   for v, (_, vote_id) in enumerate(opened_votes) for i, name in enumerate(residents)]
        opinions = [(instance_id, name, i % 2) for instance_id in consultations for i, name in enumerate(list(residents)[:6])]
        with ThreadPoolExecutor(24) as pool:
            cast = list(pool.map(lambda b: (b, clients.send(residents[b[1]], "POST", f"/api/votes/{b[0]}/ballots",
                                                            {"choice": b[2]}, str(uuid.uuid4()), via=b[3])), ballots))
            given = list(pool.map(lambda o: clients.send(residents[o[1]], "POST", f"/api/instances/{o[0]}/opinions",
                                                         {"text": f"An opinion of {o[1]}."}, via=o[2]), opinions))
        assert datetime.now(timezone.utc) < deadline, "the ballots took longer than LEAD: raise it"
        assert [status for _, (status, _) in cast] == [201] * len(ballots), [a for _, a in cast if a[0] != 201][:3]
        assert [status for status, _ in given] == [201] * len(opinions), [a for a in given if a[0] != 201][:3]

        # The workers close every vote and every opinion period at the deadline.
        instance_ids = [i for i, _ in opened_votes] + consultations
        with engine.read() as session:
            while time.monotonic() - began < 50:
                session.rollback()
                pending = session.scalar(select(func.count()).select_from(Timer).where(Timer.instance_id.in_(instance_ids)))
                if pending == 0 and datetime.now(timezone.utc) > deadline + timedelta(seconds=2):
                    break
                time.sleep(0.3)
            assert pending == 0, "the workers did not fire every timer"
        closed = time.monotonic() - began

        # No lost ballot: every acknowledged receipt is on the board, with the choice it was cast with.
        for (vote_id, name, choice, via), (_, receipt) in cast:
            checked = clients.ok(200, residents[name], "POST", f"/api/votes/{vote_id}/receipts/check",
                                 {"receipt": receipt["receipt"]}, via=1 - via)
            assert (checked["found"], checked["current"], checked["on_board"], checked["choice"]) == (True, True, True, choice)
        time.sleep(1.5)  # one more periodic checkpoint over the final heads, signed while servers also sign

        # Each server's /metrics adds up its gunicorn workers' counts (multiprocess mode): every request
        # the clients sent it, every ballot; the workers' own count every timer they fired.
        for n, server in enumerate(servers):
            samples = scrape(server.port)
            sent = Counter(status for via, _, path, status in clients.answers if via == n)
            for status, count in sent.items():
                counted = total(samples, "yishi_http_requests_total", status=str(status)) \
                    - total(samples, "yishi_http_requests_total", status=str(status), endpoint="/api/health")  # the start-up's checks
                assert counted == count, (n, status, counted, count)
            assert total(samples, "yishi_commands_total", command="CastBallot", outcome="ok") == sum(b[3] == n for b in ballots)
        fired_by = [total(scrape(port), "yishi_timers_fired_total") for port in worker_ports]
        assert sum(fired_by) == len(instance_ids)
    finally:
        for w in workers:
            stop(w)
        for s in servers:
            s.stop()
    stopped = time.monotonic() - began

    assert not [pid for pid in pids if alive(pid)], "a process was left running"
    assert [w.returncode for w in workers] == [0, 0]  # SIGTERM: each worker finished its instance and left
    assert all(status < 500 for *_, status in clients.answers), Counter(status for *_, status in clients.answers)
    assert Counter(via for via, *_ in clients.answers).keys() == {0, 1}
    with engine.read() as session:
        fired = Counter(session.scalars(select(Event.instance_id).where(Event.type == "timers_fired", Event.instance_id.in_(instance_ids))))
        assert fired == {instance_id: 1 for instance_id in instance_ids}  # every timer fired, exactly once
        assert set(session.scalars(select(Vote.status).where(Vote.instance_id.in_(instance_ids)))) == {"closed"}
        for vote_id in (v for _, v in opened_votes):
            assert session.scalar(select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote_id)) == len(residents)
        assert session.scalar(select(func.count()).select_from(Opinion)) == len(opinions)
        for instance_id in consultations:
            ready = [t.element_id for t in session.get(Instance, instance_id).tasks if t.state == "READY"]
            assert ready == ["record_deliberation"]
        rows = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
        assert [row.id for row in rows] == list(range(1, len(rows) + 1)) and len(rows) >= VOTES
        previous = checkpoints.GENESIS
        for row in rows:  # one chain, whichever process signed each link
            assert row.previous == previous
            previous = checkpoints.statement_hash(checkpoints.as_dict(row))
        assert {row.reason for row in rows} >= {"periodic"}
    engine.db.dispose()
    for n in range(2):
        assert "Traceback" not in (tmp_path / f"server{n}.log").read_text()
        log = (tmp_path / f"worker{n}.log").read_text()
        assert "Traceback" not in log and "not fired" not in log and "no checkpoint" not in log, log
    assert sum(int(line.split()[3]) for n in range(2) for line in (tmp_path / f"worker{n}.log").read_text().splitlines()
               if line.startswith("fired timers of")) == len(instance_ids)

    verified = subprocess.run([YISHI, "--database", database_url, "verify"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified: the history holds" in verified.stdout
    print(f"\nservers up at {started:.1f} s, configured at {configured:.1f} s, timers fired by {closed:.1f} s, "
          f"stopped at {stopped:.1f} s, verified at {time.monotonic() - began:.1f} s")
