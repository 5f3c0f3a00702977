"""Webhooks end to end on both backends: the outbox written in the command's transaction, deliveries posted signed to
a receiver on 127.0.0.1, retried through failures and timeouts with nothing lost, resumed by another worker, claimed
once by racing workers, and never a ballot's content."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import func, select

from engine.bootstrap import Engine, EngineConfig
from engine.audit.sealing import ledger
from engine.kernel.clock import ManualClock
from engine.kernel.commands import CompleteTask, StartInstance
from engine.kernel.db import Database
from engine.kernel.errors import InvalidInput, PermissionDenied
from engine.kernel.models import Event
from engine.voting.commands import CastBallot
from engine.webhooks import delivery
from engine.webhooks.commands import ClaimDeliveries, RegisterWebhook
from engine.webhooks.events import BALLOT_TYPES, EVENT_TYPES
from engine.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.builders import consultation, events_of, open_vote, ready
from tests.helpers import Community

TIMEOUT = 0.4
YISHI = str(Path(sys.executable).with_name("yishi"))
ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every POST and answers as told: ``ok`` (200), ``fail`` (500),
    ``slow`` (answers 503 only after the worker's timeout)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.mode, self.delay = "ok", delay
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
                mode = receiver.mode
                if receiver.delay:
                    time.sleep(receiver.delay)
                if mode == "slow":
                    time.sleep(TIMEOUT * 3)
                status = {"ok": 200, "fail": 500, "slow": 503}[mode]
                with receiver.lock:
                    receiver.posts.append({"headers": dict(self.headers), "body": body, "status": status,
                                           "path": self.path})
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/yishi"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def acknowledged(self) -> Counter[str]:
        """How many times each delivery id got a 2xx from here."""
        return Counter(p["headers"]["Yishi-Delivery"] for p in self.posts if p["status"] == 200)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture(autouse=True)
def private_addresses_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YISHI_WEBHOOKS_ALLOW_PRIVATE", "1")


def subscribe(engine: Engine, community: Community, url: str, types: Any = EVENT_TYPES) -> str:
    return engine.execute(RegisterWebhook(url, sorted(types)), community["admin"]).secret


def drain(engine: Engine, rounds: int = 200) -> int:
    """Run delivery rounds until one attempts nothing; how many attempts were made."""
    attempted = 0
    for _ in range(rounds):
        done = delivery.deliver_due(engine, limit=10, timeout=TIMEOUT)
        if not done.attempted:
            return attempted
        attempted += done.attempted
    raise AssertionError("deliveries kept coming")


def verified(post: dict[str, Any], secret: str) -> bool:
    """What docs/webhooks.md tells receivers to do."""
    timestamp, signature = post["headers"]["Yishi-Timestamp"], post["headers"]["Yishi-Signature"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.{post['body']}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature) and abs(time.time() - int(timestamp)) < 300


def deliveries(engine: Engine) -> list[WebhookDelivery]:
    with engine.read() as session:
        found = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.seq)))
        session.expunge_all()
        return found


def test_every_event_of_a_consultation_reaches_the_receiver_signed(
    deployed: Engine, community: Community, clock: ManualClock, receiver: Receiver,
) -> None:
    secret = subscribe(deployed, community, receiver.url)
    instance_id = consultation(deployed, community, clock, close_early=True)
    with deployed.read() as session:
        history = [(e.seq, e.type, e.hash) for e in events_of(session, instance_id)]
    assert drain(deployed) == len(history) > 10

    bodies = [json.loads(p["body"]) for p in receiver.posts]
    assert sorted((b["event"]["seq"], b["type"], b["event"]["hash"]) for b in bodies) == history
    assert all(verified(p, secret) for p in receiver.posts)
    assert not verified({**receiver.posts[0], "body": receiver.posts[0]["body"].replace("}", " }", 1)}, secret)
    first = receiver.posts[0]
    assert first["path"] == "/hooks/yishi" and first["headers"]["Content-Type"].startswith("application/json")
    for post, body in zip(receiver.posts, bodies):
        assert post["headers"]["Yishi-Delivery"] == body["delivery_id"]
        assert post["headers"]["Yishi-Event"] == body["type"]
        assert body["community"] == {"id": community.id, "slug": "harmony"}
        assert body["instance"]["id"] == instance_id and body["instance"]["definition_key"] == "consultation"
        assert body["at"].endswith("Z") and body["event"]["instance_id"] == instance_id
    started = next(b for b in bodies if b["type"] == "instance_started")
    assert started["summary"] == {"definition": "consultation", "version": 1, "operations": [], "failed": False}
    # opinions' words, task data and who acted are not sent: identifiers and enumerated values only
    text = "".join(p["body"] for p in receiver.posts)
    for words in ("By the gate.", "Behind building 3", "Enough heard.", "Discussed.", "Convenient.", "A shed by the gate."):
        assert words not in text
    answered = [b["summary"] for b in bodies if b["type"] == "opinion_answered"]
    assert {s["verdict"] for s in answered} == {"adopted", "not_adopted", "partly_adopted"}
    assert all(set(s) == {"opinion_id", "verdict"} for s in answered)
    assert receiver.acknowledged() == Counter({d.id: 1 for d in deliveries(deployed)})
    assert {d.status for d in deliveries(deployed)} == {"delivered"}


def test_a_webhook_hears_only_its_event_types_and_its_community(
    deployed: Engine, community: Community, other_community: Community, clock: ManualClock, receiver: Receiver,
) -> None:
    subscribe(deployed, community, receiver.url, ["opinion_submitted"])
    consultation(deployed, other_community, clock, close_early=True)
    assert deliveries(deployed) == []
    consultation(deployed, community, clock, close_early=True)
    assert [d.event_type for d in deliveries(deployed)] == ["opinion_submitted"] * 3


def test_no_ballots_content_is_ever_sent(
    deployed: Engine, community: Community, clock: ManualClock, receiver: Receiver,
) -> None:
    subscribe(deployed, community, receiver.url)
    secret_vote, secret_id = open_vote(deployed, community, title="Roof garden")
    public_vote, public_id = open_vote(deployed, community, title="Bench colour", secret=False)
    receipts = [deployed.execute(CastBallot(secret_id, "yes"), community["alice"]).receipt,
                deployed.execute(CastBallot(secret_id, "abstain"), community["bob"]).receipt,
                deployed.execute(CastBallot(public_id, "no"), community["carol"]).receipt]
    changed = deployed.execute(CastBallot(secret_id, "no", previous_receipt=receipts[0]), community["alice"]).receipt
    drain(deployed)
    ballots = [json.loads(p["body"]) for p in receiver.posts if p["headers"]["Yishi-Event"] in BALLOT_TYPES]
    assert sorted(b["type"] for b in ballots) == ["ballot_cast"] * 3 + ["ballot_changed"]
    assert all(b["summary"] in ({"vote_id": secret_id}, {"vote_id": public_id}) for b in ballots)
    voters = {community[name].member_id for name in ("alice", "bob", "carol")}
    for post in receiver.posts:  # every body, not only the ballots'
        body = post["body"]
        for secret in (*receipts, changed, '"yes"', '"no"', '"abstain"', "alice", "bob", "carol", "choice", "receipt",
                       "voter", "actor"):
            assert secret not in body
        assert not voters & set(_numbers(json.loads(body)["summary"]))


def _numbers(value: Any) -> list[int]:
    return [v for v in value.values() if isinstance(v, int) and not isinstance(v, bool)]


def test_a_failing_then_slow_receiver_loses_nothing_and_acknowledges_each_delivery_once(
    deployed: Engine, community: Community, clock: ManualClock, receiver: Receiver,
) -> None:
    subscribe(deployed, community, receiver.url, ["instance_started", "task_completed"])
    for _ in range(3):
        deployed.execute(StartInstance("consultation"), community["chair"])
    written = deliveries(deployed)
    assert len(written) == 3

    receiver.mode = "fail"
    assert drain(deployed) == 3  # one attempt each: a failed endpoint's others are given back, then tried in turn
    after_500 = deliveries(deployed)
    assert {(d.status, d.attempts, d.last_status_code, d.last_error) for d in after_500} == {("pending", 1, 500, "HTTP 500")}
    assert all(d.next_attempt_at == clock.now() + timedelta(seconds=30) for d in after_500)
    assert drain(deployed) == 0  # not due before its backoff

    clock.advance(timedelta(seconds=31))
    receiver.mode = "slow"
    assert drain(deployed) == 3
    after_timeout = deliveries(deployed)
    assert {(d.status, d.attempts, d.last_status_code) for d in after_timeout} == {("pending", 2, None)}
    assert all("timed out" in (d.last_error or "").lower() for d in after_timeout)
    assert all(d.next_attempt_at == clock.now() + timedelta(seconds=60) for d in after_timeout)

    clock.advance(timedelta(seconds=61))
    receiver.mode = "ok"
    assert drain(deployed) == 3
    assert receiver.acknowledged() == Counter({d.id: 1 for d in written})  # same ids, each acknowledged once
    assert {(d.status, d.attempts, d.last_status_code) for d in deliveries(deployed)} == {("delivered", 3, 200)}
    with deployed.read() as session:
        attempts = list(session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)))
        session.expunge_all()
    assert [(a.number, a.status_code) for a in attempts if a.delivery_id == written[0].id] == [(1, 500), (2, None), (3, 200)]
    assert all(a.duration_ms >= 0 for a in attempts)
    bodies = {p["headers"]["Yishi-Delivery"]: set() for p in receiver.posts}
    for post in receiver.posts:
        bodies[post["headers"]["Yishi-Delivery"]].add(post["body"])
    assert all(len(b) == 1 for b in bodies.values())  # the same body at every attempt


def test_a_delivery_fails_for_good_after_its_last_attempt(
    deployed: Engine, community: Community, clock: ManualClock, receiver: Receiver,
) -> None:
    subscribe(deployed, community, receiver.url, ["instance_started"])
    deployed.execute(StartInstance("consultation"), community["chair"])
    receiver.mode = "fail"
    waits = []
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        assert drain(deployed) == 1
        (row,) = deliveries(deployed)
        assert row.attempts == attempt
        if row.status == "pending":
            waits.append(int((row.next_attempt_at - clock.now()).total_seconds()))
            clock.set(row.next_attempt_at)
    assert row.status == "failed" and drain(deployed) == 0
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_worker_that_dies_after_claiming_delays_its_deliveries_and_another_sends_them(
    deployed: Engine, community: Community, clock: ManualClock, receiver: Receiver, database_url: str, tmp_path: Path,
) -> None:
    subscribe(deployed, community, receiver.url, ["instance_started"])
    for _ in range(4):
        deployed.execute(StartInstance("consultation"), community["chair"])
    claim = deployed.execute(ClaimDeliveries(2, 600))  # and then the worker dies: nothing recorded
    assert len(claim.deliveries) == 2
    assert drain(deployed) == 2 and len(receiver.posts) == 2  # the other two
    clock.advance(timedelta(seconds=599))
    assert drain(deployed) == 0
    clock.advance(timedelta(seconds=2))
    restarted = Engine(Database(database_url), clock, EngineConfig(audit_key=tmp_path / "audit-key.pem"))
    try:
        assert drain(restarted) == 2
    finally:
        restarted.db.dispose()
    assert receiver.acknowledged() == Counter({d.id: 1 for d in deliveries(deployed)})
    assert {c.id for c in claim.deliveries} <= set(receiver.acknowledged())


def test_the_outbox_row_is_written_in_the_commands_transaction_or_not_at_all(
    deployed: Engine, community: Community, receiver: Receiver,
) -> None:
    subscribe(deployed, community, receiver.url, ["instance_started", "task_completed"])
    instance_id = deployed.execute(StartInstance("consultation"), community["chair"]).id
    task = ready(deployed, instance_id)["draft_topic"]
    with pytest.raises(InvalidInput):  # refused: no event, no delivery
        deployed.execute(CompleteTask(task, {"title": ""}), community["chair"])
    with pytest.raises(PermissionDenied):
        deployed.execute(CompleteTask(task, {}), community["alice"])

    def after_the_outbox(session: Any, events: Any) -> None:
        raise RuntimeError("the commit fails after the outbox was written")

    ledger.SEALED_LISTENERS.append(after_the_outbox)
    try:
        with pytest.raises(RuntimeError):
            deployed.execute(StartInstance("consultation"), community["chair"])
    finally:
        ledger.SEALED_LISTENERS.remove(after_the_outbox)
    with deployed.read() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
    assert [(d.instance_id, d.event_type) for d in deliveries(deployed)] == [(instance_id, "instance_started")]


def test_racing_workers_on_postgresql_send_each_delivery_once(
    deployed: Engine, community: Community, clock: ManualClock, database_url: str, tmp_path: Path,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's SKIP LOCKED; SQLite's units of work take turns")
    slow = Receiver(delay=0.01)
    try:
        subscribe(deployed, community, slow.url, ["instance_started"])
        for _ in range(30):
            deployed.execute(StartInstance("consultation"), community["chair"])
        workers = [Engine(Database(database_url), clock, EngineConfig(audit_key=tmp_path / "audit-key.pem")) for _ in range(3)]
        attempted = [0] * len(workers)
        start = threading.Barrier(len(workers))

        def work(index: int) -> None:
            start.wait()
            while True:
                done = delivery.deliver_due(workers[index], limit=3, timeout=5)
                if not done.attempted:
                    return
                attempted[index] += done.attempted

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for worker in workers:
            worker.db.dispose()
        assert sum(attempted) == 30 and sum(1 for a in attempted if a) >= 2  # they shared the work
        assert slow.acknowledged() == Counter({d.id: 1 for d in deliveries(deployed)})
        assert len(slow.posts) == 30
    finally:
        slow.close()


def test_yishi_worker_once_sends_what_is_due_and_a_second_run_resumes(
    deployed: Engine, community: Community, clock: ManualClock, receiver: Receiver, database_url: str, tmp_path: Path,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the CLI in a subprocess, on the file SQLite database")
    clock.set(datetime.now(timezone.utc) - timedelta(hours=1))
    secret = subscribe(deployed, community, receiver.url, ["instance_started"])
    for _ in range(3):
        deployed.execute(StartInstance("consultation"), community["chair"])
    environment = {**os.environ, "YISHI_WEBHOOKS_ALLOW_PRIVATE": "1"}
    command = [YISHI, "--database", database_url, "--audit-key", str(tmp_path / "audit-key.pem"), "worker", "--once",
               "--webhook-batch", "2", "--webhook-timeout", str(TIMEOUT)]
    receiver.mode = "fail"
    first = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "webhooks: 0 delivered, 1 to retry, 0 failed" in first.stdout
    receiver.mode = "ok"  # a new process: the two not attempted are due at once, the failed one after its backoff
    second = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "webhooks: 2 delivered, 0 to retry, 0 failed" in second.stdout
    assert all(verified(p, secret) for p in receiver.posts)
    statuses = Counter(d.status for d in deliveries(deployed))
    assert statuses == Counter({"delivered": 2, "pending": 1})
