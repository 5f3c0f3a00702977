"""Racing ballot changes through the real HTTP server: gunicorn, 2 workers × 16 threads, both backends.

The attack that found the lost updates: 20 voters, each sending 50 concurrent "change my ballot"
requests that all present the same previous receipt (each with its own Idempotency-Key). A
receipt is spent once: exactly one change per voter is acknowledged, every other request gets a
409 saying the receipt was already replaced, and every acknowledged receipt is afterwards found
on the voter's current ballot — nothing acknowledged is overwritten.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.ballots import Server
from engine.kernel.commands import CompleteTask, StartInstance
from engine.identity import models as identity_models
from engine.identity import members
from engine.audit.bundles import export
from engine.audit.offline.verify import verify
from engine.kernel.db import Database
from engine.kernel.models import Event, Instance
from engine.voting.models import Participation, Vote
from engine.bootstrap import Engine, EngineConfig
from engine.kernel.unit_of_work import UnitOfWork
from tests.helpers import make_community, send

VOTERS = 20
CHANGES_EACH = 50
CONFIG = {"title": "Stairwell colour", "question": "Shall the stairwells be green?", "method": "yes_no_abstain",
          "rule": {}, "secret": True, "electorate": "residents", "deadline": "2030-01-01T00:00"}





@pytest.fixture
def vote(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A secret vote open until 2030, its electorate 20 residents with tokens, set up by an engine on the real clock."""
    monkeypatch.setenv("YISHI_AUDIT_KEY", str(tmp_path / "audit-key.pem"))
    engine = Engine(Database(database_url), config=EngineConfig(audit_key=tmp_path / "audit-key.pem"))
    engine.deploy_bundled()
    community = make_community(engine, "harmony")
    tokens = {}
    with UnitOfWork(engine.db, engine.clock) as uow:
        row = uow.session.get(identity_models.Community, community.id)
        for n in range(VOTERS - 3):  # alice, bob and carol are residents already (chair too, but it stays out)
            member = members.add_member(uow.session, row, f"neighbour{n}", ["resident"], uow.now)
            tokens[member.name] = members.issue_token(uow.session, member, "test", uow.now)
        uow.commit()
    tokens |= {name: community.tokens[name] for name in ("alice", "bob", "carol")}
    instance = engine.execute(StartInstance("vote"), community["chair"])
    with engine.read() as session:
        (task,) = [t.id for t in session.get(Instance, instance.id).tasks if t.state == "READY"]
    engine.execute(CompleteTask(task, {"vote": CONFIG}), community["chair"])
    with engine.read() as session:
        (vote_id,) = session.scalars(select(Vote.id).where(Vote.instance_id == instance.id))
    engine.db.dispose()
    return {"engine": engine, "community": community, "tokens": tokens, "vote_id": vote_id, "instance_id": instance.id}


def test_racing_changes_over_http_each_receipt_is_spent_once(vote: dict[str, Any], database_url: str, tmp_path: Path) -> None:
    path = f"/api/votes/{vote['vote_id']}/ballots"
    with Server(database_url, workers=2, threads=16, log=tmp_path / "server.log") as server:
        firsts = {}
        for name, token in vote["tokens"].items():
            status, body = send(server.port, token, "POST", path, {"choice": "yes"}, str(uuid.uuid4()))
            assert status == 201, body
            firsts[name] = body["receipt"]
        attempts = [(name, choice) for name in vote["tokens"] for choice in ["no", "abstain"] * (CHANGES_EACH // 2)]
        with ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(lambda a: (a[0], a[1], *send(server.port, vote["tokens"][a[0]], "POST", path,
                                                               {"choice": a[1], "receipt": firsts[a[0]]}, str(uuid.uuid4()))),
                                    attempts))
        acknowledged = {name: (choice, body) for name, choice, status, body in answers if status == 201}
        statuses = Counter(status for _, _, status, _ in answers)
        refusals = {body["error"]["message"] for _, _, status, body in answers if status != 201}
        assert statuses == {201: VOTERS, 409: VOTERS * (CHANGES_EACH - 1)}, statuses
        assert refusals == {"this receipt was already replaced by a later ballot; send the receipt of your latest ballot"}
        assert len(acknowledged) == VOTERS  # one per voter
        for name, (_, body) in acknowledged.items():
            status, checked = send(server.port, vote["tokens"][name], "POST", f"/api/votes/{vote['vote_id']}/receipts/check",
                                   {"receipt": body["receipt"]})
            assert (status, checked["found"], checked["current"], checked["choice"]) == (200, True, True, None)
    engine, vote_id = vote["engine"], vote["vote_id"]
    with engine.read() as session:
        changes = list(session.scalars(select(Participation.changes).where(Participation.vote_id == vote_id)))
        changed_events = session.scalar(select(func.count()).select_from(Event).where(
            Event.instance_id == vote["instance_id"], Event.type == "ballot_changed"))
        assert changes == [1] * VOTERS and changed_events == VOTERS
        verdict = verify(export(session, vote["community"].id, now=engine.clock.now(), public_keys={}), replay=False)
        assert verdict.ok, verdict.problems
    assert "Traceback" not in (tmp_path / "server.log").read_text()
